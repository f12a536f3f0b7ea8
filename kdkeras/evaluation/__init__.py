"""Evaluation: one scoring function for Keras models and `.tflite` files
(`evaluate_model`), tables, latency, sparsity, training curves and the
comparison report."""

from kdkeras.evaluation import comparison, latency, report, scoring, sparsity, tables
from kdkeras.evaluation.comparison import (
    compare_models,
    describe_teacher_to_student,
    teacher_to_student,
)
from kdkeras.evaluation.latency import measure_latency
from kdkeras.evaluation.scoring import (
    classification_scores,
    evaluate_model,
    to_class_ids,
)
from kdkeras.evaluation.sizes import count_parameters, model_size_bytes
from kdkeras.evaluation.tables import (
    DEFAULT_COLUMNS,
    Column,
    format_markdown_table,
    format_size,
    format_table,
    save_rows_json,
)
from kdkeras.evaluation.training_curves import plot_training_curves
