"""The schema of a run folder's `state.json` (`RunState`), the errors of a
folder that cannot go on, and the differences between two configs that
`--resume` shows."""

import json
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
