"""What the benchmarks that run `kdkeras` share: running the command as a user
does, reading the run folder it made, and writing `benchmarks/results/*.json`
with the command, the date, the machine and the package versions
(`benchmarks/result_tables.py` renders those files for `docs/benchmarks.md`)."""

import datetime
import json
import os
import platform
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


def write_result(name, path=None, **fields):
    """Writes `benchmarks/results/<name>.json` (or `path`): `name`, the
    command that ran, the date, the machine, the package versions and
    `fields`."""
    import keras
    import tensorflow as tf

    result = {
        "name": name,
        "command": "python "
        + os.path.relpath(sys.argv[0], os.path.dirname(os.path.dirname(RESULTS)))
        + "".join(f" {argument}" for argument in sys.argv[1:]),
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
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=2)
        file.write("\n")
    print(f"Wrote {path}")
    return path
