"""`kdkeras export` and `kdkeras report`: the commands that take saved
models (`.keras`, `.tflite`) rather than a run config."""

import os

import click

from kdkeras.cli.failures import (
    ConfigProblem,
    short_message,
)
from kdkeras.cli.quiet_tensorflow import (
    import_kdkeras,
)


def _checked_tflite(path, option="MODEL"):
    """`path`, once its LiteRT file loads; else a `ConfigProblem` naming it."""
    from kdkeras.litert.litert_model import LiteRTModel

    try:
        LiteRTModel(path)
    except Exception as error:  # The interpreter raises ValueError, RuntimeError
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigProblem(
            short_message(
                f"{option}: expected a LiteRT model file (.tflite) that loads; "
                f"received {path} ({type(error).__name__}: {reason[:200]})"
            )
        ) from None
    return path


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


_QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")


@click.command()
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
@click.option(
    "--name",
    "model_name",
    help="The model card's name, embedded in each file (default: the model's).",
)
@click.option("--description", help="The model card's description.")
@click.option("--version", "model_version", help="The model card's version (1).")
@click.option("--author", help="The model card's author.")
@click.option("--license", "model_license", help="The model card's licence.")
def export(model, output, quantizations, data, labels, integer_io, overwrite, **card):
    """Export MODEL.keras as LiteRT files with labels and metadata.

    --name, --description, --version, --author and --license make the model
    card embedded in each file's TFLite metadata (MediaPipe Tasks reads it).
    """
    import_kdkeras()
    from kdkeras.cli.data_files import (
        check_label_order,
        read_images,
        read_labels_file,
    )
    from kdkeras.export import ExportError, Quantization, save_for_device

    quantizations = quantizations or ("float16", "int8")
    keras_model = _load_model(model)
    input_shape = tuple(keras_model.inputs[0].shape[1:])
    calibration, class_names = None, None
    if data is not None:
        images, class_names = read_images(data, input_shape, "train")
        calibration = images[0] if isinstance(images, tuple) else images
    if labels is not None:
        label_names = read_labels_file(labels)
        check_label_order(label_names, class_names, labels, renaming=False)
        class_names = label_names
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
            model_info={
                key.removeprefix("model_"): value
                for key, value in card.items()
                if value is not None
            },
        )
    except ExportError:
        raise  # A conversion that failed: exit code 1.
    except (ValueError, TypeError, FileExistsError) as error:
        # The model, labels or calibration images do not fit: bad input.
        raise ConfigProblem(short_message(error)) from None
    for quantization, path in paths["tflite"].items():
        click.echo(f"{quantization}: {path}")


@click.command()
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
    from kdkeras.cli.data_files import (
        check_label_order,
        model_input_shape,
        read_images,
        read_labels_file,
    )
    from kdkeras.evaluation import format_table
    from kdkeras.evaluation import report as report_module

    named = {}
    for text in models:
        name, _, path = text.rpartition("=")
        if not os.path.isfile(path):
            raise click.BadParameter(f"no such file: {path}", param_hint="MODEL")
        row = name or os.path.splitext(os.path.basename(path))[0]
        named[row] = (
            _load_model(path) if path.endswith(".keras") else _checked_tflite(path)
        )
    first_path = models[0].rpartition("=")[2]
    images, class_names = read_images(data, model_input_shape(first_path), "test")
    if labels is not None:
        label_names = read_labels_file(labels)
        check_label_order(label_names, class_names, labels)
        class_names = label_names
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
