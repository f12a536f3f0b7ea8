"""Tests of `kdkeras.export.Quantization`: the quantization of a LiteRT file as
one immutable value, checked once."""

import dataclasses

import numpy as np
import pytest

from kdkeras.export import (
    DEFAULT_CALIBRATION_EXAMPLES,
    QUANTIZATIONS,
    Quantization,
    as_quantization,
)


def test_defaults_and_str():
    quantization = Quantization()
    assert quantization.scheme == "float32"
    assert quantization.num_calibration_examples == DEFAULT_CALIBRATION_EXAMPLES == 200
    assert quantization.integer_io is False
    assert quantization.quantization_aware is False
    assert [str(Quantization(scheme)) for scheme in QUANTIZATIONS] == [
        "float32",
        "float16",
        "dynamic_range",
        "int8",
    ]


def test_repr_shows_the_options_that_are_not_the_defaults():
    assert repr(Quantization()) == "Quantization('float32')"
    assert repr(Quantization("int8")) == "Quantization('int8')"
    assert (
        repr(Quantization("int8", num_calibration_examples=500, integer_io=True))
        == "Quantization('int8', num_calibration_examples=500, integer_io=True)"
    )
    assert (
        repr(Quantization("int8", quantization_aware=True))
        == "Quantization('int8', quantization_aware=True)"
    )


def test_immutable_hashable_and_equal_by_value():
    quantization = Quantization("int8", integer_io=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quantization.integer_io = False
    assert quantization == Quantization("int8", integer_io=True)
    assert quantization != Quantization("int8")
    assert len({quantization, Quantization("int8", integer_io=True)}) == 1
    assert dataclasses.replace(quantization, integer_io=False) == Quantization("int8")


def test_numpy_values_become_python_values():
    quantization = Quantization(
        "int8", num_calibration_examples=np.int64(300), integer_io=np.bool_(True)
    )
    assert type(quantization.num_calibration_examples) is int
    assert quantization.num_calibration_examples == 300
    assert quantization.integer_io is True


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("int4",), "`scheme` must be one of ('float32', 'float16', 'dynamic_range'"),
        ((8,), "Received: scheme=8"),
        (("int8", 0), "`num_calibration_examples` must be a positive integer"),
        (("int8", 2.5), "`num_calibration_examples` must be a positive integer"),
        (("int8", 200, "yes"), "`integer_io` must be True or False"),
        (("int8", 200, False, 1), "Received: quantization_aware=1"),
        (
            ("float16", 200, True),
            "`integer_io=True` requires quantization='int8'. "
            "Received: quantization='float16'",
        ),
        (
            ("dynamic_range", 200, False, True),
            "`quantization_aware=True` requires quantization='int8'",
        ),
    ],
)
def test_options_are_checked_when_made(arguments, message):
    with pytest.raises(ValueError) as info:
        Quantization(*arguments)
    assert message in str(info.value)


def test_calibrated_and_the_data_it_needs():
    # Calibration: int8, unless a QAT model's ranges suffice (float I/O).
    assert [Quantization(scheme).calibrated for scheme in QUANTIZATIONS] == [
        False,
        False,
        False,
        True,
    ]
    assert not Quantization("int8", quantization_aware=True).calibrated
    qat_io = Quantization("int8", integer_io=True, quantization_aware=True)
    assert qat_io.calibrated

    Quantization("float16").check_representative_data(None)
    Quantization("int8", quantization_aware=True).check_representative_data(None)
    Quantization("int8").check_representative_data(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="required for quantization='int8'"):
        Quantization("int8").check_representative_data(None)
    with pytest.raises(ValueError, match="required with `integer_io=True`"):
        qat_io.check_representative_data(None)


def test_as_quantization_turns_a_name_into_the_value():
    int8 = Quantization("int8", integer_io=True)
    assert as_quantization(int8) is int8
    assert as_quantization("float16") == Quantization("float16")
    assert as_quantization("int8", scheme="int8") == Quantization("int8")
    with pytest.raises(ValueError) as info:
        as_quantization("dynamic", "quantizations")
    assert str(info.value) == (
        "`quantizations` must be one of ('float32', 'float16', 'dynamic_range', "
        "'int8') or a kdkeras.export.Quantization. Received: quantizations='dynamic'"
    )
    with pytest.raises(ValueError, match="Received: quantization of type dict"):
        as_quantization({"scheme": "int8"})
    with pytest.raises(ValueError) as info:
        as_quantization(Quantization("float16"), scheme="int8")
    assert str(info.value) == (
        "`quantization` must be an 'int8' quantization. "
        "Received: quantization=Quantization('float16')"
    )
