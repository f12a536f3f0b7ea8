"""The `teacher:` and `student:` sections: which models a run trains."""

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from kdkeras.config.errors import InvalidValue
from kdkeras.config.fields import (
    AUTO_STUDENT,
    IMAGE_STUDENTS,
    TEXT_STUDENTS,
    BatchSize,
    Count,
    Fraction,
    ImageSize,
    LearningRate,
    PositiveInt,
    WidthMultiplier,
)
from kdkeras.config.section import Section, registry_checks


class TransformerSection(Section):
    """`teacher.transformer:` the teacher of text, trained on the labels.

    A Transformer encoder over token ids
    (`kdkeras.text.build_text_transformer`): `num_layers` blocks of
    `num_heads`-head self-attention of width `embedding_dim` and a
    feed-forward layer of `feedforward_dim` units (null: twice the width),
    trained from random weights for `epochs` epochs with Adam, whose
    learning rate decays to 0 (cosine). Filled in with its defaults for text
    data; images take a preset instead.
    """

    embedding_dim: PositiveInt = 64
    num_layers: PositiveInt = 2
    num_heads: PositiveInt = 4
    feedforward_dim: PositiveInt | None = None
    dropout: Fraction = 0.1
    epochs: PositiveInt = 3
    batch_size: BatchSize = 32
    learning_rate: LearningRate = 1e-3

    @model_validator(mode="after")
    def _heads_divide_the_width(self):
        if self.embedding_dim % self.num_heads:
            raise InvalidValue(
                ("num_heads",),
                f"a divisor of embedding_dim ({self.embedding_dim}): each head "
                "attends over embedding_dim / num_heads dimensions",
                self.num_heads,
            )
        return self

    def builder_arguments(self):
        """The keyword arguments of `build_text_transformer` it sets."""
        return {
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "feedforward_dim": self.feedforward_dim or 2 * self.embedding_dim,
            "dropout": self.dropout,
        }


class TeacherSection(Section):
    """`teacher:` a `keras.applications` preset fine-tuned in two stages, a
    saved `.keras` teacher (`path`) that takes the data's images as they are,
    or several (`paths`), taught as one `TeacherEnsemble`: the mean of their
    logits, weighted by `ensemble_weights` (equal when null). Text data
    train the Transformer of `transformer` instead of a preset."""

    path: str | None = None
    paths: list[str] | None = None
    ensemble_weights: list[Annotated[float, Field(ge=0.0)]] | None = None
    preset: str = "mobilenet_v2"
    weights: str | None = "imagenet"
    width: WidthMultiplier | None = None
    image_size: ImageSize | None = None
    dropout: Fraction = 0.2
    head_epochs: Count = 2
    fine_tune_epochs: Count = 2
    head_learning_rate: LearningRate = 1e-3
    fine_tune_learning_rate: LearningRate = 1e-4
    num_unfrozen_layers: PositiveInt | None = 20
    batch_size: BatchSize = 128
    transformer: TransformerSection | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, preset):
        if not registry_checks():
            return preset
        from kdkeras.models.presets import BACKBONE_PRESETS

        if preset not in BACKBONE_PRESETS:
            raise ValueError(f"expected one of {sorted(BACKBONE_PRESETS)}")
        return preset

    @field_validator("weights")
    @classmethod
    def _none_means_random(cls, weights):
        return None if weights is None or weights.lower() == "none" else weights

    @model_validator(mode="after")
    def _check_ensemble(self):
        if self.paths is not None and len(self.paths) < 2:
            raise InvalidValue(
                ("paths",), "two or more .keras teachers (one: use path)", self.paths
            )
        if self.paths is not None and self.path is not None:
            raise InvalidValue(
                ("path",), "null when paths is set (one teacher or several)", self.path
            )
        if self.ensemble_weights is not None:
            if self.paths is None or len(self.ensemble_weights) != len(self.paths):
                raise InvalidValue(
                    ("ensemble_weights",),
                    "one weight per teacher of teacher.paths"
                    + (f" ({len(self.paths)})" if self.paths else ""),
                    self.ensemble_weights,
                )
            if sum(self.ensemble_weights) <= 0:
                raise InvalidValue(
                    ("ensemble_weights",),
                    "weights with a positive sum",
                    self.ensemble_weights,
                )
        return self

    @property
    def ready(self):
        """Whether the teacher is given (`path` or `paths`), not trained."""
        return self.path is not None or self.paths is not None


class BudgetSection(Section):
    """`student.budget:` what the student may cost on the device, as an int8
    LiteRT file: `size_kb` (the file, 1 KB = 1024 bytes) and `latency_ms`
    (the LiteRT interpreter's median at batch 1, with `report.num_threads`
    threads, on this machine). One or both.

    With `architecture: auto` the run measures candidate students before
    training and trains the largest that fits; with a named architecture it
    measures that one student and refuses to start if it does not fit
    (`kdkeras.export.choose_student`).
    """

    size_kb: Annotated[float, Field(gt=0.0)] | None = None
    latency_ms: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _one_limit_at_least(self):
        if self.size_kb is None and self.latency_ms is None:
            raise InvalidValue(
                ("size_kb",),
                "a size in KB, a latency_ms, or both: the budget the student must fit",
                None,
            )
        return self


class StudentSection(Section):
    """`student:` the small model: for images a CNN, an MLP or a width-scaled
    MobileNet; for token ids an embedding bag or a 1-D CNN (`kdkeras.text`);
    or `auto`: the largest of a few candidates that fits `budget`, measured
    before training (`kdkeras.pipeline.student_choice`).

    `filters`, `dense_units` and `pooling` are read for a CNN,
    `hidden_units` for an MLP, `width` for a MobileNet; `embedding_dim` for
    the text students, with `hidden_units` (one layer or none: `[]`) for an
    embedding bag, `filters` (one layer) and `kernel_size` for a text CNN.
    With `auto`, the candidates' CNNs take `dense_units` and `pooling`, the
    text CNNs `kernel_size`, and the run's config.yaml holds the student
    chosen in place of `auto`.
    """

    architecture: Literal[(*IMAGE_STUDENTS, *TEXT_STUDENTS, AUTO_STUDENT)] = "cnn"
    filters: list[PositiveInt] = [8, 16]
    dense_units: PositiveInt | None = None
    pooling: Literal["avg", "flatten"] = "flatten"
    hidden_units: list[PositiveInt] = [128]
    width: WidthMultiplier | None = None
    embedding_dim: PositiveInt = 8
    kernel_size: PositiveInt = 3
    dropout: Fraction = 0.0
    budget: BudgetSection | None = None

    @property
    def is_text(self):
        """Whether the student reads token ids."""
        return self.architecture in TEXT_STUDENTS

    @property
    def is_auto(self):
        """Whether the run chooses the student (`architecture: auto`)."""
        return self.architecture == AUTO_STUDENT

    @model_validator(mode="after")
    def _budget_with_auto(self):
        if self.is_auto and self.budget is None:
            raise InvalidValue(
                ("budget",),
                "a budget (size_kb, latency_ms or both) with architecture "
                "'auto': the run trains the largest student that fits it",
                None,
            )
        return self

    @model_validator(mode="after")
    def _one_layer_for_text(self):
        if self.architecture == "embedding_bag" and len(self.hidden_units) > 1:
            raise InvalidValue(
                ("hidden_units",),
                "at most one number for 'embedding_bag' (its one hidden Dense "
                "layer; [] for none)",
                self.hidden_units,
            )
        if self.architecture == "text_cnn" and len(self.filters) != 1:
            raise InvalidValue(
                ("filters",),
                "one number for 'text_cnn' (its one Conv1D layer)",
                self.filters,
            )
        if self.architecture == "text_cnn" and self.dropout:
            raise InvalidValue(
                ("dropout",), "0 for 'text_cnn', which has no dropout", self.dropout
            )
        return self
