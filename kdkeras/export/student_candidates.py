"""The students `kdkeras.export.choose_student` measures: an architecture
and its builder's options (`StudentCandidate`), and the default lists for
images and for token ids."""

import dataclasses

TEXT_ARCHITECTURES = ("embedding_bag", "text_cnn")
"""Candidates that read token ids (`kdkeras.text`); the others read images
(`kdkeras.models.build_student`)."""


def plain_option(value):
    """An option value as JSON and YAML write it: tuples as lists."""
    return list(value) if isinstance(value, tuple) else value


@dataclasses.dataclass(frozen=True)
class StudentCandidate:
    """A student to measure: an architecture and its builder's options.

    Attributes:
        architecture: `"cnn"`, `"mlp"`, `"mobilenet_v2"`,
            `"mobilenet_v3_small"` or `"mobilenet_v3_large"` (built by
            `kdkeras.models.build_student`), or `"embedding_bag"` or
            `"text_cnn"` (`kdkeras.text`).
        options: The builder's keyword arguments, e.g. `{"filters": (8, 16)}`
            or `{"width": 0.5}`.
    """

    architecture: str
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def is_text(self):
        """Whether the candidate reads token ids."""
        return self.architecture in TEXT_ARCHITECTURES

    @property
    def name(self):
        """The architecture and its options, e.g. `"cnn filters=[8, 16]"`."""
        words = [
            f"{key}={plain_option(value)}"
            for key, value in self.options.items()
            if value is not None
        ]
        return " ".join([self.architecture, *words])

    def build(self, input_shape, num_classes, vocabulary_size=None, name=None):
        """The untrained Keras model of this candidate.

        Args:
            input_shape: One image's shape, or `(sequence_length,)` for text.
            num_classes: The number of classes.
            vocabulary_size: The number of token ids (text candidates).
            name: The model's name.

        Raises:
            ValueError: If the architecture cannot take `input_shape`.
        """
        if not self.is_text:
            from kdkeras.models import build_student

            return build_student(
                self.architecture,
                num_classes,
                input_shape=tuple(input_shape),
                name=name,
                **self.options,
            )
        from kdkeras import text

        if vocabulary_size is None:
            raise ValueError(
                f"`vocabulary_size` is required for the text candidate "
                f"{self.name!r}. Received: vocabulary_size=None"
            )
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.architecture} takes token ids of shape (sequence_length,); "
                f"the input shape is {tuple(input_shape)}"
            )
        builders = {
            "embedding_bag": text.build_embedding_bag,
            "text_cnn": text.build_text_cnn,
        }
        kernel_size = self.options.get("kernel_size")
        if kernel_size is not None and kernel_size > input_shape[0]:
            raise ValueError(
                f"its kernel_size {kernel_size} is longer than the "
                f"{input_shape[0]} token ids of a text"
            )
        return builders[self.architecture](
            vocabulary_size,
            input_shape[0],
            num_classes,
            name=name or self.architecture,
            **self.options,
        )


IMAGE_CANDIDATES = (
    *(
        StudentCandidate(
            "cnn", {"filters": filters, "dense_units": None, "pooling": "flatten"}
        )
        for filters in ((4, 8), (8, 16), (16, 32), (32, 64), (64, 128))
    ),
    *(
        StudentCandidate("mobilenet_v3_small", {"width": width})
        for width in (0.25, 0.5, 0.75, 1.0)
    ),
    *(StudentCandidate("mobilenet_v2", {"width": width}) for width in (0.35, 0.5, 1.0)),
)
"""The candidates for images when none are given: the CNN of
`kdkeras.models.build_cnn` (flattened, as the demo's student) at five widths,
MobileNetV3-small at four and MobileNetV2 at three (these two take RGB images
of at least 32×32 pixels)."""

TEXT_CANDIDATES = (
    *(
        StudentCandidate(
            "embedding_bag", {"embedding_dim": embedding_dim, "hidden_units": 16}
        )
        for embedding_dim in (4, 8, 16, 32, 64)
    ),
    *(
        StudentCandidate("text_cnn", {"embedding_dim": dimension, "filters": filters})
        for dimension, filters in ((8, 32), (16, 64), (32, 128))
    ),
)
"""The candidates for token ids when none are given: the embedding bag at
five embedding sizes, the text CNN at three widths (`kdkeras.text`)."""
