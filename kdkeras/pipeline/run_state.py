"""The schema of a run folder's `state.json` (`RunState`), the errors of a
folder that cannot go on, and the differences between two configs that
`--resume` shows."""

import json
import os
import typing

import pydantic

FINDING_KINDS = ("decision", "warning", "result")
"""What a finding of the run is: a choice it made, a warning, or a result
(the teacher-to-student figures)."""

MAX_STATE_BYTES = 10_000_000
"""The largest `state.json` read: a run's is a few kB."""


class RunFolderError(ValueError):
    """A folder that is not a `kdkeras run` folder, or one that cannot go on."""


class StateFileError(RunFolderError):
    """A `state.json` that is not JSON, or not of `RunState`'s schema."""


class ChangedConfigError(RunFolderError):
    """`--resume` of a run whose `config.yaml` changed since it started."""


class _StageRecord(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", strict=True)

    finished: str
    artifacts: dict[str, typing.Any]


class _FindingRecord(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", strict=True)

    stage: str
    kind: typing.Literal[FINDING_KINDS]
    message: str
    numbers: dict[str, typing.Any] = {}


class RunState(pydantic.BaseModel):
    """The schema of `state.json`.

    Attributes:
        kdkeras_version: The version that started the run.
        stages: Stage name → when it finished and its artifacts (paths
            inside the run folder start with `run:`).
        findings: The run's decisions, warnings and results, in order.
        config: The config the run started with, as JSON (`config.yaml`
            read back); missing in folders of kdkeras before 0.1.
    """

    model_config = pydantic.ConfigDict(extra="allow", strict=True)

    kdkeras_version: str
    stages: dict[str, _StageRecord]
    findings: list[_FindingRecord] = []
    config: dict[str, typing.Any] | None = None


INSIDE = "run:"
"""The prefix of `state.json` paths relative to the run folder."""

PATH_ARTIFACTS = ("model", "weights", "package", "report", "training_curves")
"""The artifacts of a stage that are paths (so are the values of `tflite`):
each is `run:` and a path inside the run folder, or, for a ready model
(`teacher.path`, `scratch.path`, `distill.student_path`), the absolute path
the run's config names."""


def artifact_path_problem(state, written_config=None):
    """Why an artifact path of `state` (a `RunState` as JSON) may not be
    followed, or `None`: `"stages.teacher.artifacts.model: expected …;
    received '../../etc/passwd'"`.

    A `run:` path (anywhere in the artifacts) must stay inside the run
    folder; a path artifact (`PATH_ARTIFACTS`, the values of `tflite`) that
    is not `run:` must be an absolute path the run's config names (the one
    it started with, in `state`, or `written_config`, its `config.yaml` as
    read: a folder of an older kdkeras keeps no config in `state.json`), so
    a hand-edited `state.json` cannot make `--resume` load a file outside.
    """
    named = set(_strings(state.get("config"))) | set(_strings(written_config))
    for stage, record in state["stages"].items():
        artifacts = record["artifacts"]
        where = f"stages.{stage}.artifacts"
        for key, path in _strings(artifacts, where, with_keys=True):
            if path.startswith(INSIDE) and not _stays_inside(path[len(INSIDE) :]):
                return (
                    f"{key}: expected a path inside the run folder; received "
                    f"{_quoted(path)}"
                )
        paths = [(f"{where}.{key}", artifacts.get(key)) for key in PATH_ARTIFACTS]
        if isinstance(artifacts.get("tflite"), dict):
            paths += [
                (f"{where}.tflite.{name}", path)
                for name, path in artifacts["tflite"].items()
            ]
        for key, path in paths:
            outside = isinstance(path, str) and not path.startswith(INSIDE)
            if outside and not (os.path.isabs(path) and path in named):
                return (
                    f"{key}: expected a path inside the run folder ({INSIDE}…) "
                    "or a ready model the run's config names; received "
                    f"{_quoted(path)}, outside the run folder"
                )
    return None


def _quoted(path, limit=100):
    text = repr(path)
    return text if len(text) <= limit else text[: limit - 2] + "…'"


def _stays_inside(relative):
    normal = os.path.normpath(relative) if relative else "."
    return not (
        os.path.isabs(relative)
        or normal == os.pardir
        or normal.startswith(os.pardir + os.sep)
    )


def _strings(value, where="", with_keys=False):
    """The strings in the JSON `value` (with their key paths)."""
    if isinstance(value, dict):
        items = [(f"{where}.{key}", item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
    elif isinstance(value, str):
        return [(where, value) if with_keys else value]
    else:
        return []
    return [found for key, item in items for found in _strings(item, key, with_keys)]


def config_snapshot(config):
    """`config` as the JSON value `state.json` keeps."""
    return json.loads(json.dumps(config.model_dump(mode="json")))


def config_differences(before, after, prefix=""):
    """The key paths where two config snapshots differ, as
    `"student.width: 16 → 32"` lines (values cut to 60 characters)."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in list(before) + [key for key in after if key not in before]:
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in after:
                lines.append(f"{path}: {_shown(before[key])} → (absent)")
            elif key not in before:
                lines.append(f"{path}: (absent) → {_shown(after[key])}")
            else:
                lines += config_differences(before[key], after[key], path)
        return lines
    if before == after:
        return []
    return [f"{prefix or '(top level)'}: {_shown(before)} → {_shown(after)}"]


def _shown(value, limit=60):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
