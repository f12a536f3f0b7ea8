import math

import pytest

from kdkeras.distillation.callbacks import NonFiniteLossError, RaiseOnNonFiniteLoss


def test_finite_loss_passes():
    RaiseOnNonFiniteLoss().on_train_batch_end(0, {"loss": 1.5})
    RaiseOnNonFiniteLoss().on_train_batch_end(0, {})


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_loss_names_the_terms(value):
    logs = {"loss": value, "student_loss": 2.0, "distillation_loss": value}
    with pytest.raises(NonFiniteLossError, match="batch 7.*student_loss=2"):
        RaiseOnNonFiniteLoss().on_train_batch_end(7, logs)
    assert issubclass(NonFiniteLossError, ValueError)
