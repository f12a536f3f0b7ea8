"""The config of what the distill stage trains with: the loss, schedules of
`alpha` and the temperature, and the augmentation of the students' images.

The loss is a name of the `kdkeras.losses` registry with its constructor
arguments, checked by building it (`kdkeras.losses.get`); the schedules are
those of `kdkeras.distillation.schedules`; the augmentation is a
`kdkeras.augmentation.rendering.AugmentationPlan` (shifts and flips).
"""

import inspect
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from kdkeras.config.errors import InvalidValue
from kdkeras.config.section import Section, registry_checks

LOSS_ARGUMENTS_NOT_IN_CONFIG = ("reduction", "name", "dtype", "temperature")
"""Constructor arguments of a loss that `distill.loss` does not take: Keras'
own, and the temperature, which is `distill.temperature` (a schedule too)."""


def loss_name_and_arguments(loss):
    """`("dkd", {"non_target_weight": 8.0})` from `distill.loss` (a name or a
    mapping with `name`)."""
    if isinstance(loss, str):
        return loss, {}
    arguments = dict(loss)
    return arguments.pop("name", None), arguments


def loss_class(name, location=()):
    """The registered loss class of `name`.

    Raises:
        InvalidValue: At `location` (under `loss`) if `name` is not registered.
    """
    from kdkeras import losses

    if not isinstance(name, str) or name not in losses.registered_names("logits"):
        raise InvalidValue(
            location,
            "a registered distillation loss (kdkeras.losses), one of "
            f"{losses.registered_names('logits')}",
            name,
        )
    return losses.registered_class(name)


def check_loss(loss):
    """Builds `distill.loss` once, so a bad argument fails before any training.

    Raises:
        InvalidValue: Located under `loss`: `name`, or the argument at fault.
    """
    if not registry_checks():
        return
    from kdkeras import losses

    if isinstance(loss, dict) and "name" not in loss:
        raise InvalidValue(
            ("name",),
            f"the loss's name, one of {losses.registered_names('logits')}",
            None,
        )
    name, arguments = loss_name_and_arguments(loss)
    cls = loss_class(name, ("name",) if isinstance(loss, dict) else ())
    accepted = sorted(
        parameter
        for parameter in inspect.signature(cls).parameters
        if parameter not in LOSS_ARGUMENTS_NOT_IN_CONFIG
    )
    for argument, value in arguments.items():
        if argument == "temperature" and cls.uses_temperature:
            raise InvalidValue(
                ("temperature",),
                "the temperature in distill.temperature (a number or a schedule), "
                "not in distill.loss",
                value,
            )
        if argument not in accepted:
            raise InvalidValue(
                (argument,),
                f"an argument of {name!r} ({cls.__name__}): "
                + (", ".join(accepted) if accepted else "it takes none"),
                value,
            )
    try:
        losses.get(name, **arguments)
    except (TypeError, ValueError) as error:
        named = [argument for argument in arguments if f"`{argument}`" in str(error)]
        raise InvalidValue(
            tuple(named[:1]),
            f"arguments {name!r} accepts ({error})",
            arguments[named[0]] if named else arguments,
        ) from None
    return cls


class ScheduleSection(Section):
    """A schedule of `distill.alpha` or `distill.temperature` over the steps.

    `constant` takes `value`; `linear` and `cosine` go from `start` to `end`
    over the first `epochs` epochs of the distillation (all of them when
    null), then stay at `end` (`kdkeras.distillation.schedules`).
    """

    schedule: Literal["constant", "linear", "cosine"]
    value: float | None = None
    start: float | None = None
    end: float | None = None
    epochs: Annotated[int, Field(strict=True, gt=0)] | None = None

    @model_validator(mode="after")
    def _check_kind(self):
        if self.schedule == "constant":
            needed, refused = ("value",), ("start", "end", "epochs")
        else:
            needed, refused = ("start", "end"), ("value",)
        for key in needed:
            if getattr(self, key) is None:
                raise InvalidValue(
                    (key,), f"a number, required by schedule {self.schedule!r}", None
                )
        for key in refused:
            if getattr(self, key) is not None:
                raise InvalidValue(
                    (key,),
                    f"no {key} with schedule {self.schedule!r} (constant: value; "
                    "linear, cosine: start, end, epochs)",
                    getattr(self, key),
                )
        return self

    def values(self):
        """`{"value": …}` or `{"start": …, "end": …}`: the values it takes."""
        keys = ("value",) if self.schedule == "constant" else ("start", "end")
        return {key: getattr(self, key) for key in keys}

    def final_value(self):
        """The value at the end of the schedule."""
        return self.value if self.schedule == "constant" else self.end

    def build(self, steps_per_epoch, distill_epochs):
        """The `kdkeras.distillation.schedules.Schedule` of this section."""
        from kdkeras.distillation import schedules

        if self.schedule == "constant":
            return schedules.Constant(self.value)
        cls = schedules.Linear if self.schedule == "linear" else schedules.Cosine
        epochs = self.epochs or distill_epochs
        return cls(self.start, self.end, steps=max(1, epochs * steps_per_epoch))


def check_schedule_range(key, value, low, high, expectation):
    """Refuses a schedule's value outside `[low, high]` (`(low, ∞)` when
    `high` is `None`); numbers are checked by their type."""
    if not isinstance(value, ScheduleSection):
        return
    for name, number in value.values().items():
        location = (key, name)
        inside = low <= number <= high if high is not None else number > low
        if not inside:
            raise InvalidValue(location, expectation, number)


class AugmentationSection(Section):
    """`augmentation:` shifts and flips of the students' training images.

    With training images in memory (a named data set or `.npz`): the same
    views in the scratch and the distill stages, drawn per image and epoch
    from `run.seed` (`kdkeras.augmentation.rendering.AugmentationPlan`), so the baseline
    trains on the same images; offline distillation caches the teacher's
    logits of every view (`kdkeras.caches.augmented_file`). With an image
    folder: Keras' `RandomTranslation` and `RandomFlip` on each batch, in
    both stages (`kdkeras.pipeline.training_augmentation.batch_augmentation`); online
    distillation only.
    """

    shift: Annotated[int, Field(strict=True, ge=0)] = 2
    horizontal_flip: bool = True

    def plan(self, seed):
        """The `AugmentationPlan` of these views."""
        from kdkeras.augmentation.rendering import AugmentationPlan

        return AugmentationPlan(
            shift=self.shift, horizontal_flip=self.horizontal_flip, seed=seed
        )


def _mapping_or_not(value):
    # The tags are type names, which error locations leave out
    # (`kdkeras.config.errors`): one error from the member the value is meant
    # for, not one from each member of the union.
    return "dict" if isinstance(value, (dict, Section)) else "float"


def _mapping_or_name(value):
    return "dict" if isinstance(value, dict) else "str"


def number_or_schedule(**bounds):
    """A number within `bounds` (pydantic `Field` arguments), or a schedule
    mapping (whose values `check_schedule_range` checks)."""
    number = Annotated[float, Field(**bounds)]
    return Annotated[
        Annotated[number, Tag("float")] | Annotated[ScheduleSection, Tag("dict")],
        Discriminator(_mapping_or_not),
    ]


LossConfig = Annotated[
    Annotated[str, Tag("str")] | Annotated[dict[str, Any], Tag("dict")],
    Discriminator(_mapping_or_name),
]
"""`distill.loss`: a registered name, or a mapping with `name` and arguments."""


class FeatureSection(Section):
    """One item of `distill.features`: a teacher layer the student's layer
    learns to match, by layer name, with a registered feature method
    (`kdkeras.losses` of kind `"features"`: `hint`, FitNets, with a learned
    projection; `attention_transfer`; the relational `rkd` and `pkt`; the
    contrastive `crd`), built by `kdkeras.losses.get`.

    `weight` null is the method's default (hint 1, attention_transfer 500,
    rkd 1, pkt 1, crd 0.8);
    `p` (the attention map's power, default 2) is read by the methods that
    take it (attention_transfer). Needs one ready functional teacher
    (`teacher.path`). Online, the teacher runs beside the student; offline
    (`distill.mode: offline`, training data in memory, no augmentation),
    the named layers' outputs are stored once beside its logits. `crd`
    keeps a memory bank row per training example and reads each example's
    index from the offline batches: offline only.
    """

    kind: str
    teacher_layer: Annotated[str, Field(min_length=1)]
    student_layer: Annotated[str, Field(min_length=1)]
    weight: Annotated[float, Field(ge=0.0)] | None = None
    p: Annotated[int, Field(strict=True, gt=0)] | None = None

    @field_validator("kind")
    @classmethod
    def _registered_feature_method(cls, kind):
        if not registry_checks():
            return kind
        from kdkeras import losses

        names = losses.registered_names("features")
        if kind not in names:
            raise InvalidValue(
                (),
                f"a registered feature method (kdkeras.losses), one of {names}",
                kind,
            )
        return kind

    @model_validator(mode="after")
    def _p_where_taken(self):
        if self.p is None or not registry_checks():
            return self
        taking_p = _feature_methods_taking("p")
        if self.kind not in taking_p:
            raise InvalidValue(
                ("p",),
                f"no p with kind {self.kind!r} ({', '.join(taking_p)} only)",
                self.p,
            )
        return self

    @property
    def needs_example_index(self):
        """Whether the method reads each training example's index (`crd`)."""
        from kdkeras import losses

        method = losses.registered_class(self.kind)
        return getattr(method, "needs_example_index", False)

    def build(self, num_examples=None):
        """The feature method of this item (`kdkeras.losses.get`).

        Args:
            num_examples: The training examples, for a method with a row per
                example (`crd`'s memory banks).
        """
        from kdkeras import losses

        arguments = {
            key: value
            for key, value in (("weight", self.weight), ("p", self.p))
            if value is not None
        }
        if self.needs_example_index:
            arguments["num_examples"] = num_examples
        return losses.get(
            self.kind,
            teacher_layer=self.teacher_layer,
            student_layer=self.student_layer,
            **arguments,
        )


def _feature_methods_taking(argument):
    """The names of the registered feature methods whose class takes `argument`."""
    from kdkeras import losses

    return [
        name
        for name in losses.registered_names("features")
        if argument in inspect.signature(losses.registered_class(name)).parameters
    ]
