"""The `kdkeras` command: `run`, `init`, `export` and `report` (click).

```
kdkeras init --data photos/                  # writes kdkeras.yaml
kdkeras run kdkeras.yaml --set distill.epochs=3
kdkeras run --resume runs/photos-20261130-120000
kdkeras export student.keras --output package/ --data photos/
kdkeras report teacher.keras student.keras package/model_int8.tflite \\
    --data test_photos/ --output report/
```

TensorFlow and the pipeline are imported when a command runs, not for
`--help`.

One rule for failures (`KdkerasGroup`): an expected one ends in a line or
two, `Error: <file or key path>: expected …; received …`, with exit code 2
for a bad config, bad data or a damaged run folder, 1 for a failure while
running (a weak teacher, a NaN loss, a failed conversion, data that is not
on this machine) and 3 for `run --strict` warnings; the Python traceback
only with `kdkeras --debug` or `KDKERAS_DEBUG=1`. TensorFlow's C++ start-up
lines (oneDNN, `cudart_stub.cc`, `absl::InitializeLog`) and its later C++
log are dropped unless `TF_CPP_MIN_LOG_LEVEL` is set (or `--debug`), so the
first line is kdkeras'.
"""

import os

import click

from kdkeras.cli.failures import (
    DEBUG_VARIABLE,
    KdkerasGroup,
    debugging,
)
from kdkeras.cli.model_commands import export, report
from kdkeras.cli.quiet_tensorflow import (
    TF_LOG_LEVEL,
    import_kdkeras,
    quiet_tensorflow_startup,
)


@click.group(cls=KdkerasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kdkeras")
@click.option(
    "--debug",
    is_flag=True,
    help=f"Show the Python traceback of an error (also: {DEBUG_VARIABLE}=1), "
    "and TensorFlow's C++ log (hidden unless TF_CPP_MIN_LOG_LEVEL is set).",
)
def cli(debug):
    """Knowledge distillation for Keras 3: a big teacher, a small student,
    LiteRT files for a phone and a report, from one config file."""
    # Before TensorFlow is imported: its C++ log off (a CPU-only machine
    # gets a `failed call to cuInit` error line at the first op), unless the
    # user chose a level or asked for --debug (`quiet_tensorflow_startup`).
    if not debugging(click.get_current_context()):
        os.environ.setdefault(TF_LOG_LEVEL, "3")


@cli.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override one config key for this run, e.g. --set distill.alpha=0.5 "
    "(the value is read as YAML: 3, 0.5, true, null, [48, 48]). Repeatable.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    help="Folder the run folder is made in (default: the config's "
    "run.output_dir, `runs`).",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    metavar="RUN_DIR",
    help="Continue the interrupted run in RUN_DIR with the config it started "
    "with: finished stages are loaded, the interrupted training stage goes on "
    "from its last finished epoch. Takes no CONFIG.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 3 when the run finished with warnings (a student "
    "that predicts one class, a distilled student below scratch, a LiteRT "
    "file that disagrees with Keras, a weak teacher let through).",
)
@click.option(
    "--allow-changed-config",
    is_flag=True,
    help="With --resume: go on although RUN_DIR/config.yaml was edited since "
    "the run started (refused otherwise, listing the changed keys); the "
    "finished stages keep what the old config made, and a warning says so.",
)
def run(config, overrides, output, resume, strict, allow_changed_config):
    """Run the whole job of CONFIG.yaml in runs/<name>-<timestamp>/.

    Stages: teacher (fine-tuned preset or saved .keras) → scratch student →
    distilled student → LiteRT export → optional QAT/pruning → report. The
    config is validated, and every file it names checked, before anything
    trains.
    """
    if (config is None) == (resume is None):
        raise click.UsageError("Give CONFIG to start a run, or --resume RUN_DIR.")
    if resume is not None and (overrides or output):
        raise click.UsageError(
            "--resume continues a run with the config it started with; it takes "
            "no --set or --output."
        )
    if allow_changed_config and resume is None:
        raise click.UsageError("--allow-changed-config goes with --resume RUN_DIR.")
    from kdkeras.config import load_config

    # Errors become `Error:` lines, without a traceback (`KdkerasGroup`). A
    # config error is found without Keras; the names of losses and presets
    # are checked with it (`without_registry_checks`), imported quietly.
    with quiet_tensorflow_startup():
        run_config = None if config is None else load_config(config, overrides)
    import_kdkeras()
    from kdkeras.pipeline import resume_run, start_run

    if resume is not None:
        folder = resume_run(resume, allow_changed_config=allow_changed_config)
    else:
        folder = start_run(run_config, output_dir=output)
    warnings = _echo_findings(folder)
    click.echo(f"Run folder: {folder.path}")
    if strict and warnings:
        raise StrictWarnings(
            f"{len(warnings)} warning(s), and --strict: see above and "
            f"{os.path.join(folder.path, 'report', 'report.md')}"
        )


class StrictWarnings(click.ClickException):
    """`kdkeras run --strict` finished with warnings: exit code 3."""

    exit_code = 3


def _echo_findings(folder):
    """Prints which student the package holds, the teacher-to-student
    figures and the warnings as the run's last lines; returns the warnings."""
    for finding in folder.findings():
        if finding["kind"] == "result" or finding["stage"] == "selection":
            if finding["kind"] != "warning":
                click.echo(finding["message"])
    warnings = folder.findings("warning")
    for finding in warnings:
        click.echo(f"WARNING ({finding['stage']}): {finding['message']}", err=True)
    return warnings


@cli.command()
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False),
    help="A folder with one sub-folder of images per class: its class names, "
    "image size and colour mode go into the config. A sub-folder of .txt "
    "files per class makes a text config.",
)
@click.option(
    "--output",
    "-o",
    "config_path",
    default="kdkeras.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The config file to write.",
)
@click.option("--force", is_flag=True, help="Replace an existing config file.")
def init(data, config_path, force):
    """Write a commented starter config (the demo's, or for --data DIR).

    Every image of DIR is decoded once: images that do not decode are named
    and not counted, a class folder without one is refused.
    """
    with quiet_tensorflow_startup():  # The config schema imports Keras.
        from kdkeras.cli.starter_config import (
            describe_image_folder,
            holds_texts,
            imagenet_weights_reachable,
            starter_config,
            starter_teacher_side,
        )
    from kdkeras.io_utils import atomic_path

    if os.path.exists(config_path) and not force:
        raise click.BadParameter(
            f"{config_path} already exists; pass --force to replace it.",
            param_hint="--output",
        )
    image_folder, pretrained, reason, notes = None, None, None, []
    try:
        texts = data is not None and holds_texts(data)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--data") from None
    if not texts:  # Images are decoded, and a model built, with TensorFlow.
        import_kdkeras()
    try:
        if data is not None and not texts:
            image_folder = describe_image_folder(data)
            notes += image_folder["notes"]
        if not texts:
            image_side = max(image_folder["image_size"]) if image_folder else 28
            pretrained, reason = imagenet_weights_reachable(
                starter_teacher_side(image_side)
            )
            if not pretrained:
                notes.append(
                    f"the teacher's ImageNet weights could not be downloaded "
                    f"({reason}): the config trains its backbone from scratch "
                    "(teacher.weights: none, head_epochs: 0, fine_tune_epochs: "
                    "12, fine_tune_learning_rate: 0.001); its comments say how "
                    "to use pretrained weights"
                )
        text = starter_config(
            config_path,
            data,
            image_folder=image_folder,
            pretrained=pretrained,
            reason=reason,
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--data") from None
    with atomic_path(config_path, overwrite=force) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            file.write(text)
    for note in notes:
        click.echo(f"Note: {note}.")
    click.echo(f"Wrote {config_path}. Run it with: kdkeras run {config_path}")


cli.add_command(export)
cli.add_command(report)


def main():
    """The console script `kdkeras`."""
    cli(prog_name="kdkeras")
