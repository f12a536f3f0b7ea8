"""The schema of a `kdkeras run` config file: one pydantic model per section.

Every section refuses unknown keys (`extra="forbid"`), so a misspelt key is an
error, not a silently ignored setting. Defaults are those of `make demo`
where the demo has one. Paths are strings here; `kdkeras.config.loading`
resolves them against the config file's folder and checks that they exist.
"""

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from kdkeras.config.distillation import (
    AugmentationSection,
    FeatureSection,
    LossConfig,
    ScheduleSection,
    check_loss,
    check_schedule_range,
    loss_name_and_arguments,
    number_or_schedule,
)
from kdkeras.config.errors import InvalidValue
from kdkeras.config.section import Section

NAMED_DATA_SETS = ("embedded_fashion_mnist", "fashion_mnist", "mnist")
"""Data sets `data.source` names, loaded by `kdkeras.datasets`."""

DATA_SOURCES = (*NAMED_DATA_SETS, "npz", "image_folder")
"""Every value of `data.source`."""

QUANTIZATION_NAMES = ("float32", "float16", "dynamic", "int8")
"""The LiteRT variants of `export.quantizations` (`kdkeras.export.QUANTIZATIONS`)."""

STUDENT_PRESETS = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
"""`keras.applications` students: the presets with a width multiplier."""

PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Count = Annotated[int, Field(strict=True, ge=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
ImageSize = tuple[PositiveInt, PositiveInt]


class RunSection(Section):
    """`run:` where the run folder goes and what makes it repeatable."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    output_dir: str = "runs"
    seed: Annotated[int, Field(strict=True)] = 1337
    tensorboard: bool = True


class DataSection(Section):
    """`data:` the images and labels: a named set, `.npz` arrays or a folder."""

    source: Literal[DATA_SOURCES]
    path: str | None = None
    test_path: str | None = None
    validation_split: Fraction = 0.1
    test_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    image_size: ImageSize | None = None
    color_mode: Literal["grayscale", "rgb"] = "rgb"
    max_train_examples: PositiveInt | None = None
    max_test_examples: PositiveInt | None = None

    @model_validator(mode="after")
    def _check_source_fields(self):
        if self.source in ("npz", "image_folder") and self.path is None:
            what = "the .npz file" if self.source == "npz" else "the image folder"
            raise InvalidValue(
                ("path",), f"{what}, required with source {self.source!r}", None
            )
        if self.source == "image_folder" and self.image_size is None:
            raise InvalidValue(
                ("image_size",),
                "[height, width], required with source 'image_folder' (every "
                "image is resized to it)",
                None,
            )
        if self.image_size is not None and self.source != "image_folder":
            raise InvalidValue(
                ("image_size",),
                f"no image_size with source {self.source!r}: images of a folder "
                "only are resized",
                self.image_size,
            )
        if self.max_train_examples is not None and self.source == "image_folder":
            raise InvalidValue(
                ("max_train_examples",),
                "no max_train_examples with source 'image_folder': a folder's "
                "training split is reshuffled every epoch, so a subset would change",
                self.max_train_examples,
            )
        if self.test_path is not None and self.source != "image_folder":
            raise InvalidValue(
                ("test_path",),
                "no test_path with source "
                f"{self.source!r}: a folder of test images is read with source "
                "'image_folder' only",
                self.test_path,
            )
        return self


class TeacherSection(Section):
    """`teacher:` a `keras.applications` preset fine-tuned in two stages, a
    saved `.keras` teacher (`path`) that takes the data's images as they are,
    or several (`paths`), taught as one `TeacherEnsemble`: the mean of their
    logits, weighted by `ensemble_weights` (equal when null)."""

    path: str | None = None
    paths: list[str] | None = None
    ensemble_weights: (
        list[Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] | None
    ) = None
    preset: str = "mobilenet_v2"
    weights: str | None = "imagenet"
    width: Annotated[float, Field(gt=0.0)] | None = None
    image_size: ImageSize | None = None
    dropout: Fraction = 0.2
    head_epochs: Count = 2
    fine_tune_epochs: Count = 2
    head_learning_rate: Annotated[float, Field(gt=0.0)] = 1e-3
    fine_tune_learning_rate: Annotated[float, Field(gt=0.0)] = 1e-4
    num_unfrozen_layers: PositiveInt | None = 20
    batch_size: PositiveInt = 128

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, preset):
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


class StudentSection(Section):
    """`student:` the small model, a CNN, an MLP or a width-scaled MobileNet.

    `filters`, `dense_units` and `pooling` are read for a CNN,
    `hidden_units` for an MLP, `width` for a MobileNet.
    """

    architecture: Literal[("cnn", "mlp", *STUDENT_PRESETS)] = "cnn"
    filters: list[PositiveInt] = [8, 16]
    dense_units: PositiveInt | None = None
    pooling: Literal["avg", "flatten"] = "flatten"
    hidden_units: list[PositiveInt] = [128]
    width: Annotated[float, Field(gt=0.0)] | None = None
    dropout: Fraction = 0.0


class TrainingSection(Section):
    """What a student's training shares: epochs, batch size, learning rate.

    Adam's learning rate decays to 0 over the epochs (cosine).
    """

    epochs: PositiveInt = 15
    batch_size: PositiveInt = 64
    learning_rate: Annotated[float, Field(gt=0.0)] = 3e-3


class ScratchSection(TrainingSection):
    """`scratch:` the baseline student trained on the labels alone."""

    enabled: bool = True
    path: str | None = None


class DeploymentCheckSection(Section):
    """`distill.deployment_check:` the int8 student's numbers while it trains.

    Every `every_n_epochs` epochs the student is exported to int8 LiteRT
    (`kdkeras.export.DeploymentCheck`) and scored on `num_examples` validation
    images; the numbers go to the epoch's logs and TensorBoard. Runs only when
    `export.quantizations` includes int8 and the data has a validation split.
    """

    enabled: bool = True
    every_n_epochs: PositiveInt = 5
    num_examples: PositiveInt = 500
    max_accuracy_drop: (
        Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)] | None
    ) = 0.02
    on_budget_exceeded: Literal["warn", "stop"] = "warn"
    latency_runs: Count = 50


class DistillSection(TrainingSection):
    """`distill:` the student trained on the labels and the teacher.

    `loss` is a `kdkeras.losses` name, or a mapping of the name and the
    loss's arguments (`{name: dkd, non_target_weight: 8}`); `alpha` and
    `temperature` are numbers or schedules (`ScheduleSection`). A null
    temperature is the loss's own default; a loss without a temperature
    (`logit_mse`, `hard_pseudo_label`) gets null when none is written.
    `method` is read as the former name of `loss`.
    """

    enabled: bool = True
    deployment_check: DeploymentCheckSection = DeploymentCheckSection()
    loss: LossConfig = "kd"
    alpha: number_or_schedule(ge=0.0, le=1.0) = 0.1
    temperature: number_or_schedule(gt=0.0) | None = 2.0
    mode: Literal["online", "offline"] = "online"
    features: list[FeatureSection] = []
    student_path: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _former_names_and_loss_defaults(cls, data):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "method" in data:
            if "loss" in data:
                raise InvalidValue(
                    ("method",),
                    "only distill.loss (method is its former name)",
                    data["method"],
                )
            try:
                check_loss(data["method"])
            except InvalidValue as error:
                raise InvalidValue(
                    ("method", *error.location), str(error), error.received
                ) from None
            data["loss"] = data.pop("method")
        if "temperature" not in data and "loss" in data:
            loss_class = _loss_class_or_none(data["loss"])
            if loss_class is not None and not loss_class.uses_temperature:
                data["temperature"] = None
        return data

    @field_validator("loss")
    @classmethod
    def _registered_loss(cls, loss):
        check_loss(loss)
        return loss

    @model_validator(mode="after")
    def _check_loss_and_schedules(self):
        cls = _loss_class_or_none(self.loss)
        check_schedule_range("alpha", self.alpha, 0.0, 1.0, "a weight in [0, 1]")
        check_schedule_range(
            "temperature", self.temperature, 0.0, None, "a temperature > 0"
        )
        if self.temperature is not None and not cls.uses_temperature:
            raise InvalidValue(
                ("temperature",),
                f"null with loss {self.loss_name!r}, which takes no temperature",
                self.temperature
                if not isinstance(self.temperature, ScheduleSection)
                else self.temperature.model_dump(exclude_none=True),
            )
        return self

    @property
    def loss_name(self):
        return loss_name_and_arguments(self.loss)[0]

    @property
    def loss_arguments(self):
        return loss_name_and_arguments(self.loss)[1]


def _loss_class_or_none(loss):
    """The class of a registered `distill.loss`; `None` for anything else,
    which the "after" validation refuses."""
    from kdkeras import losses

    name = loss.get("name") if isinstance(loss, dict) else loss
    if isinstance(name, str) and name in losses.registered_names():
        return type(losses.get(name))
    return None


class OptimizeSection(Section):
    """`optimize:` quantization-aware training or pruning, teacher in the loss."""

    method: Literal["qat", "prune"]
    epochs: PositiveInt = 1
    batch_size: PositiveInt = 64
    learning_rate: Annotated[float, Field(gt=0.0)] = 1e-4
    target_sparsity: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5


class ExportSection(Section):
    """`export:` the LiteRT variants of the student, with labels and metadata."""

    enabled: bool = True
    quantizations: list[Literal[QUANTIZATION_NAMES]] = ["float16", "int8"]
    integer_io: bool = False

    @field_validator("quantizations")
    @classmethod
    def _distinct(cls, quantizations):
        if not quantizations or len(set(quantizations)) != len(quantizations):
            raise ValueError("expected a non-empty list of distinct quantizations")
        return quantizations


class ReportSection(Section):
    """`report:` the comparison of every model on the test set."""

    enabled: bool = True
    title: str | None = None
    latency_runs: Count = 100
    num_threads: PositiveInt | None = 1


class RunConfig(Section):
    """A whole `kdkeras run` config: only `data` has no default."""

    run: RunSection = RunSection()
    data: DataSection
    teacher: TeacherSection = TeacherSection()
    student: StudentSection = StudentSection()
    scratch: ScratchSection = ScratchSection()
    distill: DistillSection = DistillSection()
    augmentation: AugmentationSection | None = None
    optimize: OptimizeSection | None = None
    export: ExportSection = ExportSection()
    report: ReportSection = ReportSection()

    @model_validator(mode="after")
    def _check_stages(self):
        in_memory = self.data.source != "image_folder"
        if self.distill.features:
            self._check_features()
        if self.augmentation is not None:
            self._check_augmentation(in_memory)
        if self.optimize is not None:
            self._check_optimize(in_memory)
        if not (self.scratch.enabled or self.distill.enabled):
            raise InvalidValue(
                ("distill", "enabled"),
                "true when scratch.enabled is false (there is no student otherwise)",
                False,
            )
        return self

    def _check_features(self):
        if self.distill.mode != "online":
            raise InvalidValue(
                ("distill", "mode"),
                "'online' with distill.features (they read the teacher's "
                "layers as it runs)",
                self.distill.mode,
            )
        if self.teacher.path is None:
            raise InvalidValue(
                ("teacher", "path"),
                "a ready functional .keras teacher with distill.features (its "
                "layers are named there; a preset teacher nests them behind its "
                "view, and an ensemble has several)",
                None,
            )

    def _check_augmentation(self, in_memory):
        if not in_memory:
            raise InvalidValue(
                ("augmentation",),
                "null with an image folder (the views are drawn per image and "
                "epoch, kdkeras.distillation.views, over training images in "
                "memory: a named data set or .npz)",
                self.augmentation.model_dump(),
            )
        if self.run.seed < 0:
            raise InvalidValue(
                ("run", "seed"),
                "a seed >= 0 with augmentation (it draws the views)",
                self.run.seed,
            )

    def _check_optimize(self, in_memory):
        requirements = (
            (
                in_memory,
                ("data", "source"),
                "a named data set or 'npz' when optimize is set "
                "(kdkeras.optimize takes arrays)",
                self.data.source,
            ),
            (
                self.distill.enabled,
                ("distill", "enabled"),
                "true when optimize is set (it fine-tunes the distilled student)",
                False,
            ),
            (
                self.export.enabled,
                ("export", "enabled"),
                "true when optimize is set (its LiteRT file joins the package)",
                False,
            ),
        )
        for satisfied, location, expectation, received in requirements:
            if not satisfied:
                raise InvalidValue(location, expectation, received)
