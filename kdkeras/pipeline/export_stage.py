"""The export stage of `kdkeras run`: the shipped student as LiteRT files with
labels and metadata (`kdkeras.export.save_for_device`), each checked against
the Keras student on the validation split."""

import os

from kdkeras.pipeline.context import REPORT_ROWS
from kdkeras.pipeline.int8_check import calibration_images


def run_export(context):
    """The final student as LiteRT files with labels and metadata."""
    from kdkeras.export import Quantization, save_for_device

    export = context.config.export
    calibration = None
    if "int8" in export.quantizations:
        calibration = calibration_images(context.data.train)
    student = context.final_student()
    context.log.info(
        "  converting the %s to LiteRT %s, each checked against Keras",
        REPORT_ROWS[context.final_student_name()],
        ", ".join(export.quantizations),
    )
    paths = save_for_device(
        student,
        context.folder.directory("package"),
        labels=context.data.class_names,
        representative_data=calibration,
        quantizations=tuple(
            Quantization(q, integer_io=export.integer_io and q == "int8")
            for q in export.quantizations
        ),
        tokenizer=context.data.tokenizer,
        overwrite=True,
        verbose=2,
        model_info=export.model_info(),
    )
    tflite = {f"student {q} .tflite": path for q, path in paths["tflite"].items()}
    for quantization, path in paths["tflite"].items():
        context.log.info(
            "  %s: %s (%.1f KB)", quantization, path, os.path.getsize(path) / 1024
        )
    context.tflite.update(tflite)
    if export.min_agreement is not None:
        check_agreement(context, student, paths["tflite"], export.min_agreement)
    return {"tflite": tflite, "package": os.path.dirname(paths["keras"])}


def check_agreement(context, student, tflite_paths, min_agreement):
    """Warns about each LiteRT file whose top-1 agreement with the Keras
    student, on the gates' sample of the validation split, is below
    `min_agreement`."""
    from kdkeras.litert import compare_with_keras
    from kdkeras.pipeline.gates import split_sample

    if context.gate_sample is None:
        context.gate_sample = split_sample(context.data)
    x, _, split_name = context.gate_sample
    for quantization, path in tflite_paths.items():
        agreement = compare_with_keras(student, path, x, verbose=0)["top1_agreement"]
        context.log.info(
            "  %s: top-1 agreement with Keras %.4f on %d %s examples",
            quantization,
            agreement,
            len(x),
            split_name,
        )
        if agreement < min_agreement:
            context.warn(
                "export",
                f"the {quantization} LiteRT file agrees with the Keras student "
                f"on {agreement:.1%} of {len(x)} {split_name} examples, below "
                f"export.min_agreement ({min_agreement:.1%}): it will not "
                "behave on the device as the student did here",
                quantization=quantization,
                agreement=round(agreement, 4),
            )
