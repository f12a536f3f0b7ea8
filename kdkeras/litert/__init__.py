"""Running, checking and timing LiteRT (`.tflite`) models.

```python
from kdkeras import litert

model = litert.LiteRTModel("student_int8.tflite", num_threads=1)
row = litert.evaluate_litert(model, x_test, y_test, parameters=student.count_params())
litert.compare_with_keras(student, model, x_test)["top1_agreement"]

```
"""

from kdkeras.litert.checks import compare_with_keras, evaluate_litert, load_litert_model
from kdkeras.litert.runner import LiteRTModel, dequantize, quantize
