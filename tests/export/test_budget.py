"""`choose_student`: untrained candidates measured as int8 LiteRT files, the
largest that fits the budget chosen. The assertions use what was measured:
file sizes do not depend on the weights, latencies are noisy."""

import os
import re

import numpy as np
import pytest

from kdkeras.export import (
    IMAGE_CANDIDATES,
    NoStudentFitsError,
    StudentCandidate,
    choose_student,
    export_litert,
)

pytestmark = pytest.mark.tensorflow

CNNS = [
    StudentCandidate(
        "cnn", {"filters": filters, "dense_units": dense_units, "pooling": "flatten"}
    )
    for filters, dense_units in (((4,), None), ((8, 16), None), ((32, 64), 32))
]
"""Three CNNs of clearly different sizes on 28×28 images."""


@pytest.fixture(scope="module")
def measured(pixels):
    """The three CNNs measured under a budget every one of them fits."""
    return choose_student(
        CNNS, (28, 28, 1), 10, pixels, size_kb=1e6, latency_runs=20
    ).measurements


def test_each_candidate_is_measured_and_the_largest_fitting_one_is_chosen(
    pixels, measured
):
    assert [row["name"] for row in measured] == [
        "cnn filters=[4] pooling=flatten",
        "cnn filters=[8, 16] pooling=flatten",
        "cnn filters=[32, 64] dense_units=32 pooling=flatten",
    ]
    # build_cnn: bias-free 3×3 convolutions, 4 numbers per batch-norm
    # channel, the flattened maps into the dense layers.
    assert [row["parameters"] for row in measured] == [
        (4 * 9 + 4 * 4) + (14 * 14 * 4 * 10 + 10),
        9170,
        (32 * 9 + 4 * 32)
        + (32 * 64 * 9 + 4 * 64)
        + (7 * 7 * 64 * 32 + 32)
        + (32 * 10 + 10),
    ]
    for row in measured:
        assert row["fits"] and row["note"] == ""
        assert row["size_kb"] == row["size_bytes"] / 1024
        assert 0 < row["latency_ms"] <= row["latency_p90_ms"]
    sizes = [row["size_bytes"] for row in measured]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    # A budget between the two larger files: the middle CNN, from the measures.
    middle, largest = measured[1]["size_kb"], measured[2]["size_kb"]
    choice = choose_student(
        CNNS, (28, 28, 1), 10, pixels, size_kb=(middle + largest) / 2, latency_runs=20
    )
    assert choice.candidate == CNNS[1]
    assert choice.chosen["name"] == "cnn filters=[8, 16] pooling=flatten"
    assert [row["fits"] for row in choice.measurements] == [True, True, False]
    assert choice.measurements[2]["note"] == (
        f"size {largest:.1f} KB > {(middle + largest) / 2:g} KB"
    )
    assert [row["size_bytes"] for row in choice.measurements] == sizes
    assert choice.runtime == (
        "int8 .tflite on the LiteRT interpreter, 1 thread, batch 1, median of 20 runs"
    )


def test_the_size_is_that_of_the_trained_int8_tflite_file(pixels, measured, tmp_path):
    # The candidate trained (an epoch on made-up labels) and exported as the
    # run exports it: the same bytes as the untrained one measured.
    model = CNNS[1].build((28, 28, 1), 10)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(pixels, np.arange(len(pixels)) % 10, epochs=1, verbose=0)
    path = export_litert(
        model, tmp_path / "student.tflite", "int8", representative_data=pixels
    )
    assert os.path.getsize(path) == measured[1]["size_bytes"]


def test_nothing_fits_names_the_budget_and_the_smallest_measure(pixels, measured):
    smallest = measured[0]
    with pytest.raises(NoStudentFitsError) as info:
        choose_student(CNNS[:2], (28, 28, 1), 10, pixels, size_kb=1.0, latency_runs=20)
    message = str(info.value)
    assert message.startswith(
        "No candidate student fits the budget (size_kb=1). The smallest, "
        f"cnn filters=[4] pooling=flatten ({smallest['parameters']:,} "
        "parameters), measured "
        f"{smallest['size_kb']:.1f} KB and "
    )
    assert [row["fits"] for row in info.value.measurements] == [False, False]
    assert [row["size_bytes"] for row in info.value.measurements] == [
        row["size_bytes"] for row in measured[:2]
    ]


def test_a_latency_budget_below_every_measure_is_refused(pixels):
    with pytest.raises(NoStudentFitsError, match=r"\(latency_ms=1e-06\)") as info:
        choose_student(
            CNNS[:1], (28, 28, 1), 10, pixels, latency_ms=1e-6, latency_runs=20
        )
    [row] = info.value.measurements
    latency = float(re.search(r"KB and ([0-9.]+) ms", str(info.value)).group(1))
    assert latency == pytest.approx(row["latency_ms"], abs=5e-4)
    assert row["note"] == f"latency {row['latency_ms']:.3f} ms > 1e-06 ms"


def test_candidates_that_cannot_take_the_images_are_listed_not_measured(pixels):
    mobilenets = [c for c in IMAGE_CANDIDATES if c.architecture != "cnn"]
    assert len(mobilenets) == 7
    choice = choose_student(
        [*mobilenets[:2], CNNS[0]],
        (28, 28, 1),
        10,
        pixels,
        size_kb=1e6,
        latency_runs=20,
    )
    assert choice.candidate == CNNS[0]
    skipped = choice.measurements[:2]
    assert [row["name"] for row in skipped] == [
        "mobilenet_v3_small width=0.25",
        "mobilenet_v3_small width=0.5",
    ]
    for row in skipped:
        assert row["parameters"] is None and row["size_bytes"] is None
        assert not row["fits"]
        assert row["note"] == (
            "skipped: `input_shape` of mobilenet_v3_small must be (height, width, "
            "3) with height and width ≥ 32. Received: input_shape=(28, 28, 1)"
        )


def test_text_candidates_measure_on_token_ids():
    rng = np.random.default_rng(0)
    token_ids = rng.integers(0, 50, size=(40, 12)).astype("int32")
    candidates = [
        StudentCandidate("embedding_bag", {"embedding_dim": 4, "hidden_units": 8}),
        StudentCandidate("text_cnn", {"embedding_dim": 4, "kernel_size": 20}),
    ]
    choice = choose_student(
        candidates,
        (12,),
        3,
        token_ids,
        size_kb=1e6,
        vocabulary_size=50,
        latency_runs=20,
    )
    bag, cnn = choice.measurements
    assert bag["parameters"] == 50 * 4 + (4 * 8 + 8) + (8 * 3 + 3)
    assert bag["fits"] and bag["size_bytes"] > 0
    assert cnn["note"] == (
        "skipped: its kernel_size 20 is longer than the 12 token ids of a text"
    )
    assert choice.candidate == candidates[0]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"size_kb": 0}, r"`size_kb` must be a finite number in \(0, inf\]"),
        ({"latency_ms": float("nan")}, r"`latency_ms` must be a finite number"),
        ({}, r"`size_kb` or `latency_ms` must be set"),
        ({"size_kb": 10, "num_threads": 0}, r"`num_threads` must be a positive"),
        ({"size_kb": 10, "candidates": []}, r"`candidates` must be None or"),
        (
            {"size_kb": 10, "candidates": [CNNS[0], CNNS[0]]},
            r"`candidates` must be distinct",
        ),
        (
            {"size_kb": 10, "quantization": "dynamic_range"},
            r"`quantization` must be an 'int8' quantization",
        ),
    ],
)
def test_arguments_are_checked_by_name(pixels, arguments, message):
    arguments = {"candidates": CNNS, **arguments}
    candidates = arguments.pop("candidates")
    with pytest.raises(ValueError, match=message):
        choose_student(candidates, (28, 28, 1), 10, pixels, **arguments)


def test_text_candidates_need_the_vocabulary_size():
    candidate = StudentCandidate("embedding_bag", {"embedding_dim": 4})
    with pytest.raises(ValueError, match="`vocabulary_size` is required"):
        candidate.build((12,), 3)
    token_ids = np.zeros((4, 12), "int32")
    with pytest.raises(
        ValueError,
        match=r"`vocabulary_size` is required for the text candidates "
        r"\['embedding_bag embedding_dim=4'\]",
    ):
        choose_student([candidate], (12,), 3, token_ids, size_kb=10)
