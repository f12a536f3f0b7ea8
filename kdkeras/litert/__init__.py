"""Running, checking and timing LiteRT (`.tflite`) models.

```python
from kdkeras import evaluation, litert

model = litert.LiteRTModel("student_int8.tflite", num_threads=1)
litert.compare_with_keras(student, model, x_test)["top1_agreement"]
evaluation.evaluate_model(model, x_test, y_test)["accuracy"]
```
"""

from kdkeras.litert.checks import compare_with_keras, load_litert_model
from kdkeras.litert.litert_model import LiteRTModel, dequantize, quantize
