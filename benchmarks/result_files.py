"""What the benchmarks that run `kdkeras` share: running the command as a user
does, reading the run folder it made, and writing `benchmarks/results/*.json`
with the command, the date, the machine and the package versions
(`benchmarks/result_tables.py` renders those files for `docs/benchmarks.md`)."""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_kdkeras(arguments, cwd=None):
    """Runs `kdkeras ARGUMENTS` in a new process, as a user would.

    Returns:
        `(exit code, stdout and stderr, seconds)`.
    """
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "kdkeras", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    output = process.stdout + process.stderr
    return process.returncode, output, time.perf_counter() - start


def run_config(config, overrides, output_dir, cwd=None):
    """`kdkeras run CONFIG --output OUTPUT_DIR --set …`, which must succeed.

    Returns:
        `(run folder, seconds, the command's last lines)`.
    """
    arguments = ["run", config, "--output", output_dir]
    for override in overrides:
        arguments += ["--set", override]
    code, output, seconds = run_kdkeras(arguments, cwd)
    if code:
        sys.exit(f"kdkeras {' '.join(arguments)} failed:\n{output[-3000:]}")
    return run_folder(output_dir), seconds, output.strip().splitlines()[-4:]


def run_folder(output_dir):
    """The one run folder `kdkeras run --output OUTPUT_DIR` made."""
    [name] = os.listdir(output_dir)
    return os.path.join(output_dir, name)


def read_json(folder, *parts):
    """The JSON file `parts` of a run folder, e.g. `("report", "report.json")`."""
    with open(os.path.join(folder, *parts), encoding="utf-8") as file:
        return json.load(file)


def command_line(script=None, argv=None):
    """`python benchmarks/SCRIPT ARGUMENTS` of this process (or of `script`
    called with `argv`, e.g. a benchmark's `main(argv)` run by a test)."""
    script = script or sys.argv[0]
    argv = sys.argv[1:] if argv is None else argv
    root = os.path.dirname(os.path.dirname(RESULTS))
    if os.path.isabs(script):
        script = os.path.relpath(script, root)
    # Quoted as a shell needs it (`--variants 'online, keras.distillation'`),
    # so that the recorded command runs as it is.
    return "python " + shlex.join([script, *argv])


def write_result(name, path=None, merge_on=None, **fields):
    """Writes `benchmarks/results/<name>.json` (or `path`): `name`, the
    command that ran, the date, the machine, the package versions and
    `fields` (a `command` in `fields` replaces this process's).

    With `merge_on` (names of a run's keys, e.g. `("method", "seed")`) the
    runs already in the file are kept unless a new run has the same values
    of those keys, and every new run records its command and date: one
    file then holds the runs of several commands.
    """
    import keras
    import tensorflow as tf

    result = {
        "name": name,
        "command": command_line(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": {
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        **fields,
    }
    path = path or os.path.join(RESULTS, f"{name}.json")
    if merge_on is not None:
        result = _merged(path, result, merge_on)
    from kdkeras.io_utils import atomic_path

    # Written beside the file and renamed: a killed run leaves the old file.
    with atomic_path(path, overwrite=True) as partial_path:
        with open(partial_path, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2, ensure_ascii=False, default=_plain)
            file.write("\n")
    print(f"Wrote {path}")
    return path


def _plain(value):
    """A NumPy scalar or array as the Python number or list JSON writes."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _merged(path, result, keys):
    """`result` with the runs of the file at `path` its runs do not replace."""
    for run in result["runs"]:
        run.setdefault("command", result["command"])
        run.setdefault("date", result["date"])
    if not os.path.exists(path):
        return result
    with open(path, encoding="utf-8") as file:
        old = json.load(file)

    def key(run):
        return json.dumps([run.get(name) for name in keys], sort_keys=True)

    new_keys = {key(run) for run in result["runs"]}
    kept = [run for run in old.get("runs", []) if key(run) not in new_keys]
    seeds = {run["seed"] for run in kept + result["runs"] if "seed" in run}
    return {
        **old,
        **result,
        # What was said of the machine by hand (its `description`) stays.
        "machine": {**old.get("machine", {}), **result["machine"]},
        "seeds": sorted(seeds) or result.get("seeds"),
        "runs": kept + result["runs"],
    }
