"""Tests of benchmarks/throughput.py: a short `--methods` run of chosen
variants, and the refusal of a variant name the run does not have."""

import pathlib
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def throughput(load_script):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # its sibling modules
    return load_script(BENCHMARKS / "throughput.py")


@pytest.mark.tensorflow
def test_only_the_chosen_variants_are_timed(throughput, capsys, tmp_path):
    result = tmp_path / "throughput_methods.json"
    throughput.main(
        [
            "--methods",
            "--quick",
            "--samples",
            "256",
            "--repeats",
            "1",
            "--variants",
            "plain",
            "offline",
            "--result",
            str(result),
        ]
    )
    output = capsys.readouterr().out
    assert "repetition 1/1: plain " in output and ", offline " in output
    assert "online" not in output.split("repetition 1/1:")[1].split("\n")[0]
    import json

    [run] = json.loads(result.read_text())["runs"]
    assert {row["variant"] for row in run["variants"]} == {"plain", "offline"}
    assert set(run["ratios"]) == {"offline / plain"}
    assert run["ratios"]["offline / plain"]["median"] > 0


@pytest.mark.tensorflow
def test_an_unknown_variant_is_refused_by_name(throughput, capsys):
    quick = ["--methods", "--quick", "--samples", "256", "--variants"]
    with pytest.raises(SystemExit, match=r"no variant named \['ofline'\]"):
        throughput.main([*quick, "plain", "ofline"])
    # Without plain, before anything is built.
    with pytest.raises(SystemExit):
        throughput.main([*quick, "offline"])
    assert "--variants must include plain" in capsys.readouterr().err


@pytest.mark.tensorflow
def test_the_feature_methods_have_online_and_stored_rows(throughput, tmp_path):
    result = tmp_path / "throughput_methods.json"
    rows = ["offline, rkd", "offline, pkt", "offline, crd", "online, pkt"]
    throughput.main(
        ["--methods", "--quick", "--samples", "256", "--repeats", "1"]
        + ["--variants", "plain", *rows, "--result", str(result)]
    )
    import json

    [run] = json.loads(result.read_text())["runs"]
    assert {row["variant"] for row in run["variants"]} == {"plain", *rows}
    assert set(run["ratios"]) == {f"{row} / plain" for row in rows}
    assert all(ratio["median"] > 0 for ratio in run["ratios"].values())
