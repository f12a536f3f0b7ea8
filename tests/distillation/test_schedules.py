import math

import keras
import numpy as np
import pytest

from kdkeras.distillation import schedules


def _value(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_linear_and_cosine_by_hand():
    linear = schedules.Linear(1.0, 0.2, steps=4)
    assert [_value(linear, step) for step in (0, 1, 2, 4, 9)] == pytest.approx(
        [1.0, 0.8, 0.6, 0.2, 0.2]
    )
    cosine = schedules.Cosine(8.0, 2.0, steps=4)
    # 2 + 6 · (1 + cos(π · t/4)) / 2 at t = 0, 1, 2, 4, 10.
    expected = [8.0, 2 + 3 * (1 + math.cos(math.pi / 4)), 5.0, 2.0, 2.0]
    assert [_value(cosine, step) for step in (0, 1, 2, 4, 10)] == pytest.approx(
        expected, rel=1e-6
    )
    assert schedules.Constant(3).get_config() == {"value": 3.0}


@pytest.mark.parametrize(
    "schedule",
    [schedules.Constant(0.5), schedules.Linear(1, 0, 10), schedules.Cosine(4, 1, 7)],
)
def test_round_trip(schedule):
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    assert schedules.get(config).get_config() == schedule.get_config()


def test_get_numbers_callables_and_errors():
    assert isinstance(schedules.get(0.3), schedules.Constant)
    function = schedules.get(lambda step: 0.5 + 0 * step)
    assert isinstance(function, schedules.FunctionSchedule)
    assert _value(function, 3) == 0.5
    with pytest.raises(TypeError, match="`alpha` must be a number, a kdkeras schedule"):
        schedules.get("fast", "alpha")
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        schedules.Linear(1.0, 0.0, steps=0)
    with pytest.raises(ValueError, match="`start` must be finite"):
        schedules.Cosine(float("nan"), 1.0, steps=3)
    assert np.isclose(_value(schedules.Linear(0, 1, 2), np.int64(1)), 0.5)
