"""Evaluation: scoring Keras models and `.tflite` files, latency, sparsity and
the comparison report."""

from kdkeras.evaluation import latency, report, sparsity
from kdkeras.evaluation.latency import measure_latency
from kdkeras.evaluation.scoring import (
    DEFAULT_COLUMNS,
    Column,
    classification_scores,
    compare_models,
    count_parameters,
    evaluate_classifier,
    format_markdown_table,
    format_size,
    format_table,
    model_size_bytes,
    save_rows_json,
    to_class_ids,
)
