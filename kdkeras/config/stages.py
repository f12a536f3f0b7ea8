"""The sections of the training and output stages: `scratch:`, `distill:`,
`optimize:`, `export:` and `report:`."""

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from kdkeras.config.distillation import (
    FeatureSection,
    LossConfig,
    ScheduleSection,
    check_loss,
    check_schedule_range,
    loss_name_and_arguments,
)
from kdkeras.config.errors import InvalidValue
from kdkeras.config.fields import (
    QUANTIZATION_NAMES,
    BatchSize,
    Count,
    LearningRate,
    PositiveInt,
)
from kdkeras.config.section import Section, registry_checks


class TrainingSection(Section):
    """What a student's training shares: epochs, batch size, learning rate.

    Adam's learning rate decays to 0 over the epochs (cosine).
    """

    epochs: PositiveInt = 15
    batch_size: BatchSize = 64
    learning_rate: LearningRate = 3e-3


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
    max_accuracy_drop: Annotated[float, Field(ge=-1.0, le=1.0)] | None = 0.02
    on_budget_exceeded: Literal["warn", "stop"] = "warn"
    latency_runs: Count = 50


AUTO = "auto"
"""`distill.alpha` or `distill.temperature` chosen by the run
(`kdkeras.pipeline.distill_settings`)."""


def _number_schedule_or_auto(numbers, **bounds):
    """A number within `bounds` (pydantic `Field` arguments), a schedule
    mapping, or the string `'auto'`; `numbers` says in words which numbers,
    for the error of any other string."""

    def auto_only(value):
        if value != AUTO:
            raise InvalidValue((), f"{numbers}, a schedule or 'auto'", value)
        return value

    def member(value):
        # Type names as tags, which error locations leave out
        # (`kdkeras.config.errors`), as `number_or_schedule` does.
        if isinstance(value, str):
            return "str"
        return "dict" if isinstance(value, (dict, Section)) else "float"

    number = Annotated[float, Field(**bounds)]
    return Annotated[
        Annotated[str, AfterValidator(auto_only), Tag("str")]
        | Annotated[number, Tag("float")]
        | Annotated[ScheduleSection, Tag("dict")],
        Discriminator(member),
    ]


class DistillSection(TrainingSection):
    """`distill:` the student trained on the labels and the teacher.

    `loss` is a `kdkeras.losses` name, or a mapping of the name and the
    loss's arguments (`{name: dkd, non_target_weight: 8}`); `alpha` and
    `temperature` are numbers or schedules (`ScheduleSection`), or `auto`:
    chosen by a short sweep on the validation split
    (`kdkeras.pipeline.distill_settings`) that, with the winner's full fit,
    costs at most `auto_budget` times the stage's epochs. A null
    temperature is the loss's own default; a loss without a temperature
    (`logit_mse`, `hard_pseudo_label`) gets null when none is written.
    `method` is read as the former name of `loss`.
    """

    enabled: bool = True
    deployment_check: DeploymentCheckSection = DeploymentCheckSection()
    loss: LossConfig = "kd"
    alpha: _number_schedule_or_auto("a number in [0, 1]", ge=0.0, le=1.0) = 0.1
    temperature: _number_schedule_or_auto("a number > 0, null", gt=0.0) | None = 2.0
    auto_budget: Annotated[float, Field(gt=1.0)] = 1.5
    mode: Literal["online", "offline"] = "online"
    features: list[FeatureSection] = []
    student_path: str | None = None
    allow_weak_teacher: bool = False

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
        # `None` only without the registry checks: this loss is checked later.
        cls = _loss_class_or_none(self.loss)
        check_schedule_range("alpha", self.alpha, 0.0, 1.0, "a weight in [0, 1]")
        check_schedule_range(
            "temperature", self.temperature, 0.0, None, "a temperature > 0"
        )
        if self.temperature is not None and cls and not cls.uses_temperature:
            raise InvalidValue(
                ("temperature",),
                f"null with loss {self.loss_name!r}, which takes no temperature",
                self.temperature
                if not isinstance(self.temperature, ScheduleSection)
                else self.temperature.model_dump(exclude_none=True),
            )
        return self

    @model_validator(mode="after")
    def _check_auto(self):
        if self.features and self.auto_keys:
            raise InvalidValue(
                (self.auto_keys[0],),
                "a number or a schedule with distill.features ('auto' is "
                "chosen by short fits on cached teacher logits, which hints "
                "and attention transfer cannot use)",
                AUTO,
            )
        for key, other in (("alpha", "temperature"), ("temperature", "alpha")):
            if key in self.auto_keys and isinstance(
                getattr(self, other), ScheduleSection
            ):
                raise InvalidValue(
                    (key,),
                    f"a number or a schedule when distill.{other} is a "
                    f"schedule ('auto' tries fixed values of distill.{other})",
                    AUTO,
                )
        return self

    @property
    def auto_keys(self):
        """The names of the keys set to `'auto'`: `alpha`, `temperature`."""
        return tuple(
            key for key in ("alpha", "temperature") if getattr(self, key) == AUTO
        )

    @property
    def loss_name(self):
        return loss_name_and_arguments(self.loss)[0]

    @property
    def loss_arguments(self):
        return loss_name_and_arguments(self.loss)[1]


def _loss_class_or_none(loss):
    """The class of a registered `distill.loss`; `None` for anything else,
    which the "after" validation refuses, and without the registry checks."""
    if not registry_checks():
        return None
    from kdkeras import losses

    name = loss.get("name") if isinstance(loss, dict) else loss
    if isinstance(name, str) and name in losses.registered_names("logits"):
        return losses.registered_class(name)
    return None


class OptimizeSection(Section):
    """`optimize:` quantization-aware training or pruning, teacher in the loss."""

    method: Literal["qat", "prune"]
    epochs: PositiveInt = 1
    batch_size: BatchSize = 64
    learning_rate: LearningRate = 1e-4
    target_sparsity: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5


class ExportSection(Section):
    """`export:` the LiteRT variants of the student, with labels and metadata.

    `model` is the student the package holds: `best` (the default) the
    better of the scratch and the distilled students on the validation
    split, or the one named. Each LiteRT file is checked against the Keras
    student on the validation split: a top-1 agreement below
    `min_agreement` is a warning of the run (null: no check).

    `model_name`, `description`, `version`, `author` and `license` are the
    model card embedded in each file's TFLite metadata (what MediaPipe Tasks
    and the LiteRT tooling show); null keeps `save_for_device`'s default
    (the model's name, a description of its classes, `"1"`, empty).
    """

    enabled: bool = True
    model: Literal["best", "distilled", "scratch"] = "best"
    quantizations: list[Literal[QUANTIZATION_NAMES]] = ["float16", "int8"]
    integer_io: bool = False
    min_agreement: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.98
    model_name: str | None = None
    description: str | None = None
    version: str | None = None
    author: str | None = None
    license: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _whole_number_version(cls, version):
        # `version: 2` in YAML is an int; `1.10` must be quoted to stay itself.
        if isinstance(version, int) and not isinstance(version, bool):
            return str(version)
        return version

    def model_info(self):
        """The `model_info` of `save_for_device`: the model card keys set."""
        values = {
            "name": self.model_name,
            "description": self.description,
            "version": self.version,
            "author": self.author,
            "license": self.license,
        }
        return {key: value for key, value in values.items() if value is not None}

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
