"""The folder of one run: its config, state, logs, checkpoints and results.

```
runs/<name>-<YYYYmmdd-HHMMSS>/
  config.yaml          the config that ran, every default filled in
  state.json           the finished stages, their artifacts and the findings
  run.log              one line per stage, and the final table
  history/<stage>.csv  loss and metrics per epoch of each training stage
  tensorboard/<stage>/ TensorBoard event files of each training stage
  checkpoints/<stage>/ `keras.callbacks.BackupAndRestore`, while it trains
  models/              teacher.keras, student_scratch.keras, …
  package/             the device package (`kdkeras.export.save_for_device`)
  report/              report.md, report.json, report.png
```

Every file kdkeras writes here is written atomically, so a run killed at any
moment leaves a folder `kdkeras run --resume` continues from. `state.json` is
read with a schema (`RunState`): a damaged one is a `StateFileError` that
names the file and says how to go on. It also keeps the config the run
started with (as `config.yaml` read back), so `--resume` can tell that
`config.yaml` was edited since (`changed_config`).
"""

import contextlib
import datetime
import json
import logging
import os
import sys

import pydantic

from kdkeras.config.errors import ConfigError
from kdkeras.config.loading import load_config, write_config
from kdkeras.config.safe_yaml import read_yaml
from kdkeras.io_utils import atomic_path
from kdkeras.pipeline.run_state import (
    FINDING_KINDS,
    INSIDE,
    MAX_STATE_BYTES,
    ChangedConfigError,
    RunFolderError,
    RunState,
    StateFileError,
    artifact_path_problem,
    config_differences,
    config_snapshot,
)
from kdkeras.version import __version__

CONFIG_FILE = "config.yaml"
STATE_FILE = "state.json"
LOG_FILE = "run.log"

LOGGER = logging.getLogger("kdkeras.run")


_INSIDE = INSIDE
"""The prefix of `state.json` paths relative to the run folder."""


def _map_paths(value, transform):
    """`value` (JSON: dicts, lists, strings) with `transform` of each string."""
    if isinstance(value, dict):
        return {key: _map_paths(item, transform) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_paths(item, transform) for item in value]
    return transform(value) if isinstance(value, str) else value


class RunFolder:
    """The paths of a run folder and its record of finished stages.

    Create one with `RunFolder.create(config)` or open an existing one with
    `RunFolder.open(path)`.
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))

    @classmethod
    def create(cls, config, output_dir=None, now=None):
        """Makes `<output_dir>/<run.name>-<timestamp>/` and writes the config.

        Args:
            config: The validated `RunConfig`.
            output_dir: Overrides `config.run.output_dir`.
            now: The `datetime` of the timestamp (default: now, UTC).
        """
        now = now or datetime.datetime.now(datetime.timezone.utc)
        output_dir = os.path.abspath(output_dir or config.run.output_dir)
        stem = f"{config.run.name}-{now:%Y%m%d-%H%M%S}"
        path, suffix = os.path.join(output_dir, stem), 1
        while True:
            try:
                os.makedirs(path)
                break
            except FileExistsError:
                suffix += 1
                path = os.path.join(output_dir, f"{stem}-{suffix}")
        folder = cls(path)
        write_config(config, folder.file(CONFIG_FILE))
        folder._write_state(
            {
                "kdkeras_version": __version__,
                "stages": {},
                # As read back, so a later read compares equal unless edited.
                "config": config_snapshot(folder.load_config()),
            }
        )
        return folder

    @classmethod
    def open(cls, path):
        """An existing run folder, to resume.

        Raises:
            RunFolderError: If `path` has no `config.yaml` and `state.json`.
        """
        folder = cls(path)
        missing = [
            name
            for name in (CONFIG_FILE, STATE_FILE)
            if not os.path.isfile(folder.file(name))
        ]
        if missing:
            raise RunFolderError(
                f"--resume expects a run folder written by `kdkeras run`, with "
                f"{CONFIG_FILE} and {STATE_FILE}. Received: {folder.path} "
                f"(missing {', '.join(missing)})"
            )
        # A damaged state.json is refused here, before anything; so is an
        # artifact path out of the run folder (a hand-edited state.json).
        try:
            written = read_yaml(folder.file(CONFIG_FILE))
        except ConfigError:  # Refused with its own words by `load_config`.
            written = None
        problem = artifact_path_problem(folder.state(), written)
        if problem is not None:
            folder._damaged(problem)
        return folder

    def load_config(self):
        """The `RunConfig` of the run's `config.yaml`."""
        return load_config(self.file(CONFIG_FILE))

    def changed_config(self, config):
        """How `config` (the run's `config.yaml`, read now) differs from the
        config the run started with: `"key.path: old → new"` lines, empty
        when it is the same or the run recorded none (an older kdkeras)."""
        started = self.state().get("config")
        if started is None:
            return []
        return config_differences(started, config_snapshot(config))

    def check_config_unchanged(self, config, allow_changed=False):
        """Refuses to resume with a `config.yaml` edited since the run
        started, unless `allow_changed`; then (or when the run recorded no
        config) `config` becomes the one later resumes compare with.

        Returns:
            The differences (`changed_config`), empty if none.

        Raises:
            ChangedConfigError: Listing the changed key paths and the ways on.
        """
        differences = self.changed_config(config)
        if differences and not allow_changed:
            shown = "; ".join(differences[:10])
            if len(differences) > 10:
                shown += f"; and {len(differences) - 10} more"
            raise ChangedConfigError(
                f"{self.file(CONFIG_FILE)}: expected the config the run started "
                f"with; received {len(differences)} changed key(s): {shown}. "
                "Undo the edit, start a new run with the edited config (kdkeras "
                f"run {self.file(CONFIG_FILE)}), or resume with "
                "--allow-changed-config (the finished stages keep what the old "
                "config made)"
            )
        state = self.state()
        snapshot = config_snapshot(config)
        if state.get("config") != snapshot:
            state["config"] = snapshot
            self._write_state(state)
        return differences

    def file(self, *parts):
        """The path of `parts` inside the run folder."""
        return os.path.join(self.path, *parts)

    def directory(self, *parts):
        """The path of the folder `parts`, created if needed."""
        path = self.file(*parts)
        os.makedirs(path, exist_ok=True)
        return path

    def model_path(self, name):
        """`models/<name>.keras`."""
        return os.path.join(self.directory("models"), f"{name}.keras")

    def checkpoint_dir(self, stage):
        """Where `BackupAndRestore` keeps the training state of `stage`."""
        return self.file("checkpoints", stage)

    def tensorboard_dir(self, stage):
        return self.file("tensorboard", stage)

    def history_path(self, stage):
        return os.path.join(self.directory("history"), f"{stage}.csv")

    def state(self):
        """The content of `state.json`, checked against `RunState`.

        Raises:
            StateFileError: If it is too large, not UTF-8 JSON (truncated,
                damaged) or not of the schema, naming the file, the key and
                how to go on.
        """
        path = self.file(STATE_FILE)
        try:
            size = os.path.getsize(path)
            if size > MAX_STATE_BYTES:
                raise ValueError(
                    f"expected at most {MAX_STATE_BYTES:,} bytes; received {size:,}"
                )
            with open(path, "rb") as file:
                state = json.loads(file.read().decode("utf-8"))
        except UnicodeDecodeError as error:
            self._damaged(f"not UTF-8 (byte offset {error.start})")
        except json.JSONDecodeError as error:
            self._damaged(
                f"not JSON, truncated or damaged ({error.msg}: line "
                f"{error.lineno}, column {error.colno})"
            )
        except ValueError as error:
            self._damaged(str(error))
        if not isinstance(state, dict):
            self._damaged(f"expected a JSON object; received {type(state).__name__}")
        try:
            RunState.model_validate(state)
        except pydantic.ValidationError as error:
            from kdkeras.config.errors import key_path

            detail = error.errors(include_url=False)[0]
            received = repr(detail.get("input"))
            if len(received) > 60:
                received = received[:59] + "…"
            more = error.error_count() - 1
            self._damaged(
                f"{key_path(detail['loc'])}: {detail['msg']} (received: "
                f"{received})" + (f"; and {more} more" if more else "")
            )
        return state

    def _damaged(self, problem):
        raise StateFileError(
            f"{self.file(STATE_FILE)}: expected the state file kdkeras run "
            f"writes; {problem}. It records which stages finished: restore it "
            f"from a backup, or start the run again in a new folder (kdkeras "
            f"run {self.file(CONFIG_FILE)}; the models of finished stages are "
            f"in {self.file('models')})"
        ) from None

    def finished_stages(self):
        """The names of the finished stages, in the order they finished."""
        return list(self.state()["stages"])

    def is_finished(self, stage):
        return stage in self.state()["stages"]

    def artifacts(self, stage):
        """What `mark_finished(stage, ...)` recorded, paths absolute."""
        return _map_paths(
            self.state()["stages"][stage]["artifacts"],
            lambda path: (
                os.path.join(self.path, path[len(_INSIDE) :])
                if path.startswith(_INSIDE)
                else path
            ),
        )

    def mark_finished(self, stage, **artifacts):
        """Records that `stage` finished, with its artifacts (JSON values).

        Paths inside the run folder are stored relative to it, so a moved
        folder still resumes.
        """
        inside = self.path + os.sep
        state = self.state()
        state["stages"][stage] = {
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "artifacts": _map_paths(
                artifacts,
                lambda path: (
                    _INSIDE + path[len(inside) :] if path.startswith(inside) else path
                ),
            ),
        }
        self._write_state(state)

    def add_finding(self, stage, kind, message, **numbers):
        """Records what `stage` decided or warned about, for the report and
        the command line's last lines.

        Args:
            stage: The stage's name, e.g. `"distill"`.
            kind: `"decision"` (a choice the run made, with its evidence),
                `"warning"` (a result worse than it should be) or `"result"`
                (the figures the run ends with).
            message: One sentence a user reads.
            **numbers: The measured values behind it (JSON numbers).
        """
        if kind not in FINDING_KINDS:
            raise ValueError(
                f"`kind` must be one of {FINDING_KINDS}. Received: kind={kind!r}"
            )
        state = self.state()
        state.setdefault("findings", []).append(
            {"stage": stage, "kind": kind, "message": message, "numbers": numbers}
        )
        self._write_state(state)

    def findings(self, kind=None):
        """The recorded findings (`add_finding`), in order; of `kind` only
        when given."""
        return [
            finding
            for finding in self.state().get("findings", [])
            if kind is None or finding["kind"] == kind
        ]

    def clear_findings(self, stage):
        """Forgets `stage`'s findings: it is about to run (again)."""
        state = self.state()
        kept = [f for f in state.get("findings", []) if f["stage"] != stage]
        if len(kept) != len(state.get("findings", [])):
            state["findings"] = kept
            self._write_state(state)

    def _write_state(self, state):
        with atomic_path(self.file(STATE_FILE), overwrite=True) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8") as file:
                json.dump(state, file, indent=2)
                file.write("\n")
                # On disk before the rename: a power cut leaves the old state
                # or the new one, never an empty file.
                file.flush()
                os.fsync(file.fileno())

    @contextlib.contextmanager
    def logging_to_file(self):
        """Sends the `kdkeras.run` log to `run.log` (appended) and the console."""
        file_handler = logging.FileHandler(self.file(LOG_FILE), encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
        console_handler = logging.StreamHandler(sys.stdout)
        console_handler.setFormatter(logging.Formatter("%(message)s"))
        previous_level, previous_propagate = LOGGER.level, LOGGER.propagate
        LOGGER.setLevel(logging.INFO)
        # Not also through the root logger, which TensorFlow's absl configures.
        LOGGER.propagate = False
        LOGGER.addHandler(file_handler)
        LOGGER.addHandler(console_handler)
        try:
            yield LOGGER
        finally:
            LOGGER.removeHandler(file_handler)
            LOGGER.removeHandler(console_handler)
            LOGGER.setLevel(previous_level)
            LOGGER.propagate = previous_propagate
            file_handler.close()
