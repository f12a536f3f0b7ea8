"""The TFLite metadata flatbuffer (`M001`) of a classifier, written and read.

MediaPipe Tasks (`ImageClassifier`, `TextClassifier`) and the TFLite Task
Library read how to feed a `.tflite` model and how to name its outputs from
a `ModelMetadata` flatbuffer stored in the model's buffer `TFLITE_METADATA`
(`kdkeras.export.embedded_metadata` puts it there). This module builds that
flatbuffer from a *description* — a plain dict, the one source that
`metadata.json` also records (`kdkeras.export.device_description`) — and
parses a flatbuffer back into the same dict, so that a written file can be
checked field by field.

It follows the published schema (`metadata_schema.fbs` of the TFLite
Support and MediaPipe projects, schema version 1.5.0) with the `flatbuffers`
package alone: the fields are numbered as in that schema. Only what a
classifier needs is written:

```
ModelMetadata             name, description, version, author, license,
                          min_parser_version
  SubGraphMetadata
    input TensorMetadata  name, description, Content(ImageProperties(color
                          space)) for images or Content(FeatureProperties)
                          for token ids; process units: NormalizationOptions
                          (images), RegexTokenizerOptions (text, with its
                          vocabulary as a VOCABULARY associated file); Stats
    output TensorMetadata name, description, Content(FeatureProperties),
                          the labels as a TENSOR_AXIS_LABELS associated file
```

The description:

```python
{
    "name": "student", "description": "…", "version": "1",
    "author": "…", "license": "…", "min_parser_version": "1.0.0",
    "input": {
        "name": "image", "description": "…",
        "color_space": "RGB",             # or "GRAYSCALE"; None for text
        "normalization": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "stats": {"min": [0.0], "max": [255.0]},
        "tokenizer": None,                # or {"delim_regex_pattern": …,
                                          #     "vocab_file": "vocab.txt"}
    },
    "output": {"name": "probability", "description": "…",
               "labels_file": "labels.txt"},
}
```
"""

import flatbuffers
from flatbuffers import number_types
from flatbuffers.table import Table

FILE_IDENTIFIER = b"M001"
"""The file identifier of a metadata flatbuffer."""

_COLOR_SPACES = {"RGB": 1, "GRAYSCALE": 2}
# Union member numbers of the schema.
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2
_NORMALIZATION_OPTIONS, _REGEX_TOKENIZER_OPTIONS = 1, 6
# AssociatedFileType values.
_TENSOR_AXIS_LABELS, _VOCABULARY = 2, 5


# Writing.


def _string(builder, text):
    return None if text is None else builder.CreateString(str(text))


def _offsets_vector(builder, offsets):
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _floats_vector(builder, values):
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        builder.PrependFloat32(float(value))
    return builder.EndVector()


def _table(builder, fields, num_slots):
    """A table from `fields`: `(slot, kind, value)`, kind "offset" or "byte";
    `None` values are left out. Children must already be in the buffer."""
    builder.StartObject(num_slots)
    for slot, kind, value in fields:
        if value is None:
            continue
        if kind == "offset":
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
        else:
            builder.PrependUint8Slot(slot, value, 0)
    return builder.EndObject()


def _associated_file(builder, name, description, file_type):
    name, description = _string(builder, name), _string(builder, description)
    fields = [(0, "offset", name), (1, "offset", description)]
    return _table(builder, [*fields, (2, "byte", file_type)], 5)


def _image_content(builder, color_space):
    properties = _table(builder, [(0, "byte", _COLOR_SPACES[color_space])], 2)
    fields = [(0, "byte", _IMAGE_PROPERTIES), (1, "offset", properties)]
    return _table(builder, fields, 3)


def _feature_content(builder):
    properties = _table(builder, [], 0)
    fields = [(0, "byte", _FEATURE_PROPERTIES), (1, "offset", properties)]
    return _table(builder, fields, 3)


def _process_unit(builder, options_type, options):
    return _table(builder, [(0, "byte", options_type), (1, "offset", options)], 2)


def _input_tensor(builder, spec):
    units = []
    normalization = spec.get("normalization")
    if normalization is not None:
        mean = _floats_vector(builder, normalization["mean"])
        std = _floats_vector(builder, normalization["std"])
        options = _table(builder, [(0, "offset", mean), (1, "offset", std)], 2)
        units.append(_process_unit(builder, _NORMALIZATION_OPTIONS, options))
    tokenizer = spec.get("tokenizer")
    if tokenizer is not None:
        vocab = _associated_file(
            builder, tokenizer["vocab_file"], "The tokenizer's vocabulary.", _VOCABULARY
        )
        pattern = _string(builder, tokenizer["delim_regex_pattern"])
        files = _offsets_vector(builder, [vocab])
        options = _table(builder, [(0, "offset", pattern), (1, "offset", files)], 2)
        units.append(_process_unit(builder, _REGEX_TOKENIZER_OPTIONS, options))
    stats = None
    if spec.get("stats") is not None:
        maximum = _floats_vector(builder, spec["stats"]["max"])
        minimum = _floats_vector(builder, spec["stats"]["min"])
        stats = _table(builder, [(0, "offset", maximum), (1, "offset", minimum)], 2)
    if spec.get("color_space") is not None:
        content = _image_content(builder, spec["color_space"])
    else:
        content = _feature_content(builder)
    return _tensor(builder, spec, content, units, stats, files=None)


def _output_tensor(builder, spec):
    labels = _associated_file(
        builder,
        spec["labels_file"],
        "The class names, one a line, in the order of the scores.",
        _TENSOR_AXIS_LABELS,
    )
    content = _feature_content(builder)
    return _tensor(builder, spec, content, [], None, files=[labels])


def _tensor(builder, spec, content, units, stats, files):
    name = _string(builder, spec["name"])
    description = _string(builder, spec["description"])
    units = _offsets_vector(builder, units) if units else None
    files = _offsets_vector(builder, files) if files else None
    fields = [
        (0, "offset", name),
        (1, "offset", description),
        (3, "offset", content),
        (4, "offset", units),
        (5, "offset", stats),
        (6, "offset", files),
    ]
    return _table(builder, fields, 7)


def build_metadata(description):
    """The metadata flatbuffer (`bytes`, identifier `M001`) of `description`."""
    builder = flatbuffers.Builder(1024)
    input_tensor = _input_tensor(builder, description["input"])
    output_tensor = _output_tensor(builder, description["output"])
    subgraph = _table(
        builder,
        [
            (2, "offset", _offsets_vector(builder, [input_tensor])),
            (3, "offset", _offsets_vector(builder, [output_tensor])),
        ],
        10,
    )
    strings = {
        key: _string(builder, description[key])
        for key in ("name", "description", "version", "author", "license")
    }
    parser_version = _string(builder, description["min_parser_version"])
    subgraphs = _offsets_vector(builder, [subgraph])
    root = _table(
        builder,
        [
            (0, "offset", strings["name"]),
            (1, "offset", strings["description"]),
            (2, "offset", strings["version"]),
            (3, "offset", subgraphs),
            (4, "offset", strings["author"]),
            (5, "offset", strings["license"]),
            (7, "offset", parser_version),
        ],
        8,
    )
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


# Reading.


class _Reader:
    """One table of a flatbuffer, its fields read by slot number."""

    def __init__(self, buffer, position):
        self._table = Table(buffer, position)

    def _offset(self, slot):
        return self._table.Offset(4 + 2 * slot)

    def string(self, slot):
        offset = self._offset(slot)
        if not offset:
            return None
        return self._table.String(offset + self._table.Pos).decode("utf-8")

    def byte(self, slot):
        offset = self._offset(slot)
        if not offset:
            return 0
        return self._table.Get(number_types.Uint8Flags, offset + self._table.Pos)

    def table(self, slot):
        offset = self._offset(slot)
        if not offset:
            return None
        return _Reader(
            self._table.Bytes, self._table.Indirect(offset + self._table.Pos)
        )

    def tables(self, slot):
        offset = self._offset(slot)
        if not offset:
            return []
        start = self._table.Vector(offset)
        return [
            _Reader(self._table.Bytes, self._table.Indirect(start + 4 * i))
            for i in range(self._table.VectorLen(offset))
        ]

    def floats(self, slot):
        offset = self._offset(slot)
        if not offset:
            return None
        values = self._table.GetVectorAsNumpy(number_types.Float32Flags, offset)
        return [float(value) for value in values]


def _read_units(tensor):
    read = {"normalization": None, "tokenizer": None}
    for unit in tensor.tables(4):
        options_type, options = unit.byte(0), unit.table(1)
        if options_type == _NORMALIZATION_OPTIONS:
            read["normalization"] = {
                "mean": options.floats(0),
                "std": options.floats(1),
            }
        elif options_type == _REGEX_TOKENIZER_OPTIONS:
            (vocab,) = options.tables(1)
            read["tokenizer"] = {
                "delim_regex_pattern": options.string(0),
                "vocab_file": vocab.string(0),
            }
    return read


def _read_input(tensor):
    content = tensor.table(3)
    color_space = None
    if content is not None and content.byte(0) == _IMAGE_PROPERTIES:
        code = content.table(1).byte(0)
        names = {value: name for name, value in _COLOR_SPACES.items()}
        color_space = names.get(code, "UNKNOWN")
    stats = tensor.table(5)
    return {
        "name": tensor.string(0),
        "description": tensor.string(1),
        "color_space": color_space,
        **_read_units(tensor),
        "stats": None
        if stats is None
        else {"min": stats.floats(1), "max": stats.floats(0)},
    }


def _read_output(tensor):
    labels = [
        file.string(0)
        for file in tensor.tables(6)
        if file.byte(2) == _TENSOR_AXIS_LABELS
    ]
    return {
        "name": tensor.string(0),
        "description": tensor.string(1),
        "labels_file": labels[0] if labels else None,
    }


def parse_metadata(buffer):
    """The description (see the module) that a metadata flatbuffer holds.

    Raises:
        ValueError: If `buffer` is not a metadata flatbuffer of one subgraph
            with one input and one output.
    """
    buffer = bytes(buffer)
    if buffer[4:8] != FILE_IDENTIFIER:
        raise ValueError(
            "`buffer` must be a TFLite metadata flatbuffer (file identifier "
            f"{FILE_IDENTIFIER!r}). Received one with identifier {buffer[4:8]!r}"
        )
    root = _Reader(
        buffer, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buffer, 0)
    )
    subgraphs = root.tables(3)
    shapes = [(len(s.tables(2)), len(s.tables(3))) for s in subgraphs]
    if shapes != [(1, 1)]:
        raise ValueError(
            "`buffer` must describe one subgraph with one input and one output "
            f"tensor. Received (inputs, outputs) per subgraph: {shapes}"
        )
    (subgraph,) = subgraphs
    return {
        "name": root.string(0),
        "description": root.string(1),
        "version": root.string(2),
        "author": root.string(4),
        "license": root.string(5),
        "min_parser_version": root.string(7),
        "input": _read_input(subgraph.tables(2)[0]),
        "output": _read_output(subgraph.tables(3)[0]),
    }
