"""Argument, data, file and environment checks shared by kdkeras' public functions.

Each check raises a Keras-style error that names the argument (or the
setting), says what was expected and shows what was received, before any
expensive work starts. One module per kind of check:

- `arguments`: counts, numbers in a range, one of a few values, strings;
- `arrays`: finite values, at least one example, equal lengths;
- `labels`: class ids and one-hot rows, class names;
- `models`: Keras models (or their `.keras` files), one output, class counts;
- `files`: files that are what they claim (`.tflite`, `.keras`);
- `environment`: the Keras backend.
"""

from kdkeras.validation.arguments import (
    check_count,
    check_number,
    check_one_of,
    check_positive_int,
    check_string,
    is_count,
    is_positive_int,
)
from kdkeras.validation.arrays import (
    check_examples,
    check_finite,
    check_same_length,
    check_same_shape,
)
from kdkeras.validation.environment import require_tensorflow_backend
from kdkeras.validation.files import check_existing_file, check_path, check_tflite_file
from kdkeras.validation.keras_models import (
    check_keras_model,
    check_single_output,
    keras_model_argument,
    num_classes,
)
from kdkeras.validation.labels import check_class_labels, check_class_names
