"""The schema of a `kdkeras run` config file: one pydantic model per section.

Every section refuses unknown keys (`extra="forbid"`), so a misspelt key is an
error, not a silently ignored setting. Defaults are those of `make demo`
where the demo has one. Paths are strings here; `kdkeras.config.loading`
resolves them against the config file's folder and checks that they exist.

The sections live in modules of their own (`data`, `models`, `stages`,
`distillation`); `RunConfig` puts them together and checks what involves
several of them. Every section class can be imported from here.
"""

from pydantic import Field, model_validator

from kdkeras.config.data import DataSection, TokenizerSection
from kdkeras.config.distillation import (
    AugmentationSection,
    FeatureSection,
    ScheduleSection,
)
from kdkeras.config.errors import InvalidValue
from kdkeras.config.fields import (
    DATA_SOURCES,
    IMAGE_STUDENTS,
    NAMED_DATA_SETS,
    QUANTIZATION_NAMES,
    STUDENT_PRESETS,
    TEXT_DATA_SETS,
    TEXT_SOURCES,
    TEXT_STUDENTS,
    Count,
    Fraction,
    ImageSize,
    PositiveInt,
    Seed,
)
from kdkeras.config.model_sections import (
    StudentSection,
    TeacherSection,
    TransformerSection,
)
from kdkeras.config.section import (
    Section,
    registry_checks,
    without_registry_checks,
)
from kdkeras.config.stages import (
    DeploymentCheckSection,
    DistillSection,
    ExportSection,
    OptimizeSection,
    ReportSection,
    ScratchSection,
    TrainingSection,
)

__all__ = [
    "DATA_SOURCES",
    "NAMED_DATA_SETS",
    "QUANTIZATION_NAMES",
    "STUDENT_PRESETS",
    "TEXT_DATA_SETS",
    "TEXT_SOURCES",
    "Count",
    "Fraction",
    "ImageSize",
    "PositiveInt",
    "AugmentationSection",
    "DataSection",
    "DeploymentCheckSection",
    "DistillSection",
    "ExportSection",
    "FeatureSection",
    "OptimizeSection",
    "ReportSection",
    "RunConfig",
    "RunSection",
    "ScheduleSection",
    "ScratchSection",
    "StudentSection",
    "TeacherSection",
    "TokenizerSection",
    "TrainingSection",
    "TransformerSection",
]


class RunSection(Section):
    """`run:` where the run folder goes and what makes it repeatable."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    output_dir: str = "runs"
    seed: Seed = 1337
    tensorboard: bool = True


with without_registry_checks():
    # The defaults ("kd", 0.1, 2.0) pass them; reading the registry of
    # losses here would import Keras with `kdkeras.config`.
    _DEFAULT_DISTILL = DistillSection()


class RunConfig(Section):
    """A whole `kdkeras run` config: only `data` has no default."""

    run: RunSection = RunSection()
    data: DataSection
    teacher: TeacherSection = TeacherSection()
    student: StudentSection = StudentSection()
    scratch: ScratchSection = ScratchSection()
    distill: DistillSection = _DEFAULT_DISTILL
    augmentation: AugmentationSection | None = None
    optimize: OptimizeSection | None = None
    export: ExportSection = ExportSection()
    report: ReportSection = ReportSection()

    @model_validator(mode="before")
    @classmethod
    def _text_models_of_texts(cls, data):
        """For text data, fills in `teacher.transformer` and makes the
        default student an embedding bag."""
        if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
            return data
        if data["data"].get("source") not in TEXT_SOURCES:
            return data
        data = dict(data)
        for section, key, default in (
            ("teacher", "transformer", {}),
            ("student", "architecture", "embedding_bag"),
        ):
            values = data.get(section)
            if isinstance(values, dict | None) and (values or {}).get(key) is None:
                data[section] = {**(values or {}), key: default}
        return data

    @model_validator(mode="after")
    def _check_stages(self):
        in_memory = self.data.source != "image_folder"
        self._check_models_fit_the_data()
        if self.distill.features:
            self._check_features(in_memory)
        if self.augmentation is not None:
            self._check_augmentation(in_memory)
        if self.optimize is not None:
            self._check_optimize(in_memory)
        shipped = {"scratch": self.scratch, "distilled": self.distill}
        if self.export.model in shipped and not shipped[self.export.model].enabled:
            raise InvalidValue(
                ("export", "model"),
                "'best' or a student the run trains (scratch.enabled or "
                "distill.enabled is false)",
                self.export.model,
            )
        if not (self.scratch.enabled or self.distill.enabled):
            raise InvalidValue(
                ("distill", "enabled"),
                "true when scratch.enabled is false (there is no student otherwise)",
                False,
            )
        return self

    def _check_models_fit_the_data(self):
        """Text students for texts, image students for images; no image-only
        stage with texts, and no ready model without the saved tokenizer
        whose ids it was trained on (`data.tokenizer.path`)."""
        data = self.data
        # `auto` chooses among text students for texts, image ones for images.
        if not self.student.is_auto and data.is_text != self.student.is_text:
            kind = "a text student" if data.is_text else "an image student"
            names = TEXT_STUDENTS if data.is_text else IMAGE_STUDENTS
            raise InvalidValue(
                ("student", "architecture"),
                f"{kind} with data.source {data.source!r}, one of {list(names)}",
                self.student.architecture,
            )
        if not data.is_text:
            if self.teacher.transformer is not None:
                raise InvalidValue(
                    ("teacher", "transformer"),
                    f"null with data.source {data.source!r} (the teacher of "
                    "texts; images take teacher.preset)",
                    self.teacher.transformer.model_dump(),
                )
            return
        sequence_length = data.tokenizer.sequence_length
        if (
            sequence_length is not None
            and self.student.architecture == "text_cnn"
            and self.student.kernel_size > sequence_length
        ):
            raise InvalidValue(
                ("student", "kernel_size"),
                f"at most data.tokenizer.sequence_length ({sequence_length}): "
                "the kernel slides over the ids of one text",
                self.student.kernel_size,
            )
        texts = f"with text data (data.source {data.source!r})"
        ready = (
            f"null {texts} unless data.tokenizer.path names the saved "
            "tokenizer whose ids the model was trained on (without it the run "
            "adapts a new tokenizer)"
        )
        # With a saved tokenizer, the ready models are checked against it
        # when the run reads it (kdkeras.pipeline.runner).
        ready_models = (
            ()
            if data.tokenizer.path is not None
            else (
                (("teacher", "path"), self.teacher.path, ready),
                (("teacher", "paths"), self.teacher.paths, ready),
                (("scratch", "path"), self.scratch.path, ready),
                (("distill", "student_path"), self.distill.student_path, ready),
            )
        )
        refused = (
            *ready_models,
            (("distill", "features"), self.distill.features or None, f"[] {texts}"),
            (
                ("augmentation",),
                self.augmentation,
                f"null {texts}: its shifts and flips are of images",
            ),
            (
                ("optimize",),
                self.optimize,
                f"null {texts}: the run optimizes image students only",
            ),
        )
        for location, value, expectation in refused:
            if value is not None:
                if isinstance(value, Section):
                    value = value.model_dump()
                elif isinstance(value, list):
                    value = [
                        item.model_dump() if isinstance(item, Section) else item
                        for item in value
                    ]
                raise InvalidValue(location, expectation, value)

    def _check_features(self, in_memory):
        offline = self.distill.mode == "offline"
        if offline and (not in_memory or self.augmentation is not None):
            raise InvalidValue(
                ("distill", "mode"),
                "'online' with distill.features on an image folder or with "
                "augmentation (offline, the teacher's layers are stored once "
                "beside its logits: training data in memory, augmentation null)",
                self.distill.mode,
            )
        for index, feature in enumerate(self.distill.features):
            if not offline and registry_checks() and feature.needs_example_index:
                raise InvalidValue(
                    ("distill", "features", index, "kind"),
                    f"a method that trains online ({feature.kind} keeps a memory "
                    "bank row per training example and reads each example's "
                    "index from the stored-output batches: distill.mode "
                    "'offline')",
                    feature.kind,
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
        if not in_memory and self.distill.enabled and self.distill.mode == "offline":
            raise InvalidValue(
                ("distill", "mode"),
                "'online' with augmentation of an image folder (offline "
                "distillation would cache the teacher's logits of every "
                "augmented view, kdkeras.caches.augmented_file, which needs "
                "the training images in memory: a named data set or .npz); "
                "or augmentation: null",
                self.distill.mode,
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
