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
    ConfigProblem,
    KdkerasGroup,
    debugging,
    short_message,
)
from kdkeras.cli.quiet_tensorflow import (
    TF_LOG_LEVEL,
    import_kdkeras,
    quiet_tensorflow_startup,
)


def _load_model(path, option="MODEL"):
    """The Keras model of the `.keras` file `path`, or a `ConfigProblem`
    naming the file (a text file named `model.keras` is not "not found")."""
    import zipfile

    import keras

    if str(path).endswith(".keras") and not zipfile.is_zipfile(path):
        # Keras says "File not found" for a file that exists but is no zip.
        raise ConfigProblem(
            f"{option}: expected a Keras model file (.keras) that loads; "
            f"received {path}, which is not a .keras (zip) archive"
        )
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile's …
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigProblem(
            short_message(
                f"{option}: expected a Keras model file (.keras) that loads; "
                f"received {path} ({type(error).__name__}: {reason[:200]})"
            )
        ) from None


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
    with quiet_tensorflow_startup():
        from kdkeras.config import load_config

    # Errors become `Error:` lines, without a traceback (`KdkerasGroup`).
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
        raise click.ClickException(
            f"{config_path} already exists; pass --force to replace it."
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


_QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")


@cli.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="The device package folder: model.keras, model_<q>.tflite, labels.txt, "
    "metadata.json.",
)
@click.option(
    "--quantization",
    "-q",
    "quantizations",
    multiple=True,
    type=click.Choice(_QUANTIZATIONS),
    help="A LiteRT variant to write; repeatable. Default: float16 and int8.",
)
@click.option(
    "--data",
    type=click.Path(exists=True),
    help="Images to calibrate int8 on: a folder of class sub-folders (its "
    "folder names are the labels) or a .npz with x_train (or x).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="A text file with one class name per line (default: the --data "
    "folder's class folders, or the .npz's class_names).",
)
@click.option("--integer-io", is_flag=True, help="int8 file with int8 input/output.")
@click.option("--overwrite", is_flag=True, help="Replace existing package files.")
def export(model, output, quantizations, data, labels, integer_io, overwrite):
    """Export MODEL.keras as LiteRT files with labels and metadata."""
    import_kdkeras()
    from kdkeras.cli.data_files import read_images, read_labels_file
    from kdkeras.export import ExportError, Quantization, save_for_device

    quantizations = quantizations or ("float16", "int8")
    keras_model = _load_model(model)
    input_shape = tuple(keras_model.inputs[0].shape[1:])
    calibration, class_names = None, None
    if data is not None:
        images, class_names = read_images(data, input_shape, "train")
        calibration = images[0] if isinstance(images, tuple) else images
    if labels is not None:
        class_names = read_labels_file(labels)
    if class_names is None:
        raise click.UsageError("Give --labels FILE, or --data with class names.")
    if "int8" in quantizations and calibration is None:
        raise click.UsageError("int8 needs calibration images: give --data.")
    try:
        paths = save_for_device(
            keras_model,
            output,
            labels=class_names,
            representative_data=calibration,
            quantizations=[
                Quantization(q, integer_io=integer_io and q == "int8")
                for q in quantizations
            ],
            overwrite=overwrite,
        )
    except ExportError:
        raise  # A conversion that failed: exit code 1.
    except (ValueError, TypeError, FileExistsError) as error:
        # The model, labels or calibration images do not fit: bad input.
        raise ConfigProblem(short_message(error)) from None
    for quantization, path in paths["tflite"].items():
        click.echo(f"{quantization}: {path}")


@cli.command()
@click.argument("models", nargs=-1, required=True, metavar="MODEL...")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="Test images: a folder of class sub-folders, or a .npz with x_test "
    "and y_test (or x and y).",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Where report.md, report.json and report.png go.",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="One class name per line (default: the folder's class folders).",
)
@click.option(
    "--title", default="Model comparison", show_default=True, help="The report's title."
)
@click.option(
    "--latency-runs",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Timed batch-1 runs per model; 0 skips the latency.",
)
@click.option(
    "--num-threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads of the LiteRT interpreters.",
)
def report(models, data, output, labels, title, latency_runs, num_threads):
    """Compare .keras and .tflite models on test images.

    Each MODEL is a path, or NAME=PATH to name its row in the table.
    """
    import_kdkeras()
    from kdkeras.cli.data_files import model_input_shape, read_images, read_labels_file
    from kdkeras.evaluation import format_table
    from kdkeras.evaluation import report as report_module

    named = {}
    for text in models:
        name, _, path = text.rpartition("=")
        if not os.path.isfile(path):
            raise click.BadParameter(f"no such file: {path}", param_hint="MODEL")
        row = name or os.path.splitext(os.path.basename(path))[0]
        named[row] = _load_model(path) if path.endswith(".keras") else path
    first_path = models[0].rpartition("=")[2]
    images, class_names = read_images(data, model_input_shape(first_path), "test")
    if labels is not None:
        class_names = read_labels_file(labels)
    x, y = images if isinstance(images, tuple) else (images, None)
    try:
        rows = report_module.compare_and_report(
            named,
            x,
            y,
            output,
            class_names=class_names,
            title=title,
            latency_runs=latency_runs,
            num_threads=num_threads,
        )
    except (ValueError, TypeError) as error:
        # Models, images, labels or class names that do not fit: bad input.
        raise ConfigProblem(short_message(error)) from None
    click.echo(format_table(rows, report_module.report_columns(rows)))
    click.echo(f"Report: {os.path.join(output, 'report.md')}")


def main():
    """The console script `kdkeras`."""
    cli(prog_name="kdkeras")
