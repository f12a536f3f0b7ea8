"""The optimize stage of `kdkeras run`: quantization-aware training or pruning
of the shipped student, the teacher in the loss (`kdkeras.optimize`); its
LiteRT files join the package."""

from kdkeras.pipeline import distill_arguments, distill_settings, run_data
from kdkeras.pipeline.context import REPORT_ROWS


def run_optimize(context):
    """QAT or pruning of the distilled student, the teacher in the loss; its
    LiteRT file joins the package."""
    from kdkeras import export, optimize

    settings = context.config.optimize
    distill = distill_settings.resolved_distill(context)
    student, data = context.final_student(), context.data
    student_row = REPORT_ROWS[context.final_student_name()]
    package_dir = context.folder.directory("package")
    context.log.info(
        "  %s: %d epochs on %d images, the teacher in the loss",
        f"quantization-aware training of the {student_row}"
        if settings.method == "qat"
        else f"pruning the {student_row} to {settings.target_sparsity:.0%} sparsity",
        settings.epochs,
        run_data.num_examples(data.train),
    )
    arguments = dict(
        teacher=context.models["teacher"],
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        **distill_arguments.optimize_arguments(distill),
        validation_data=data.validation,
        seed=context.config.run.seed,
        verbose=2,
    )
    if settings.method == "qat":
        result = optimize.quantize_aware(student, data.train, **arguments)
        saved = optimize.save_qat_for_device(
            result,
            package_dir,
            data.class_names,
            overwrite=True,
            representative_data=data.train[0],
            model_info=context.config.export.model_info(),
            verbose=2,
        )
        tflite = {"student qat_int8 .tflite": saved["tflite"]}
        artifacts = context.save_model("optimize", result.keras_model)
    else:
        result = optimize.prune(
            student, data.train, target_sparsity=settings.target_sparsity, **arguments
        )
        artifacts = context.save_model("optimize", result.model)
        tflite = {}
        for quantization in context.config.export.quantizations:
            saved = export.add_variant(
                result.model,
                package_dir,
                data.class_names,
                f"pruned_{quantization}",
                quantization=quantization,
                representative_data=data.train[0],
                model_info=context.config.export.model_info(),
                overwrite=True,
                verbose=2,
            )
            tflite[f"student pruned {quantization} .tflite"] = saved["tflite"]
    context.tflite.update(tflite)
    return {**artifacts, "tflite": tflite}
