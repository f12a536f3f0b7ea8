"""The tables of `docs/benchmarks.md`, generated from `benchmarks/results/*.json`.

Each result file a benchmark writes has a renderer (by its `name`: here, or
in `benchmarks/tables/`); its
table stands in `docs/benchmarks.md` between `<!-- results:NAME -->` and
`<!-- /results:NAME -->`, so a number in the docs is the number in the file
and can be checked against what ran (`tests/test_result_tables.py`).

    python benchmarks/result_tables.py           # rewrite the tables
    python benchmarks/result_tables.py --check   # exit 1 if one is stale
"""

import argparse
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tables import accuracy, speed  # noqa: E402  (benchmarks/tables/)

RESULTS = os.path.join(HERE, "results")
DOCS = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.md")


def _mean_std(values):
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _footer(result):
    return (
        f"`{result['command']}`, {result['date'][:10]}, "
        f"{result['machine']['cpu_count']} CPU cores, seeds {result['seeds']}."
    )


def run_judgement(result):
    """One row per recipe and seed: exit code, time, test accuracies."""
    rows = [
        "| teacher recipe | seed | exit | time | teacher | scratch | distilled "
        "| int8 | the run's decision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in result["runs"]:
        accuracy = run.get("test_accuracy", {})

        def cell(name, accuracy=accuracy):
            return f"{accuracy[name]:.4f}" if name in accuracy else "-"

        warnings = [f for f in run["findings"] if f["kind"] == "warning"]
        shipped = [f for f in run["findings"] if f["stage"] == "selection"]
        if run["exit_code"]:
            decision = "stopped: " + warnings[0]["message"].split(". Likely")[0]
        else:
            holds = re.search(r"holds the (student \(\w+\))", shipped[0]["message"])
            decision = f"ships the {holds[1]}"
        rows.append(
            f"| {run['recipe']} | {run['seed']} | {run['exit_code']} "
            f"| {run['seconds']:.0f} s | {cell('teacher')} "
            f"| {cell('student (scratch)')} | {cell('student (distilled)')} "
            f"| {cell('student int8 .tflite')} | {decision} |"
        )
    return "\n".join(rows) + "\n\n" + _footer(result)


def auto_settings_fashion_mnist(result):
    """Mean ± std of the test accuracy per method, and each seed's choice."""
    methods = {}
    for run in result["runs"]:
        methods.setdefault(run["method"], []).append(run)
    scratch = statistics.mean(r["test_accuracy"] for r in methods["scratch"])
    teacher = result["teacher_test_accuracy"]
    rows = [
        "| method | alpha | T | test accuracy | gap closed |",
        "|---|---|---|---:|---:|",
    ]
    for method, runs in methods.items():
        accuracies = [run["test_accuracy"] for run in runs]
        settings = {
            key: sorted({f"{run[key]:g}" for run in runs if key in run})
            for key in ("alpha", "temperature")
        }
        gap = (statistics.mean(accuracies) - scratch) / (teacher - scratch)
        rows.append(
            f"| {method} | {', '.join(settings['alpha']) or '-'} "
            f"| {', '.join(settings['temperature']) or '-'} "
            f"| {_mean_std(accuracies)} "
            f"| {'-' if method == 'scratch' else f'{gap:+.0%}'} |"
        )
    return (
        "\n".join(rows)
        + f"\n\nTeacher {teacher:.4f}; {result['student']}, {result['epochs']} "
        f"epochs. " + _footer(result)
    )


def auto_settings_demo(result):
    """Test accuracy of the distilled student per seed, fixed and auto."""
    rows = [
        "| seed | scratch | distilled, fixed (0.1, T 2) | distilled, auto "
        "| auto chose |",
        "|---:|---:|---:|---:|---|",
    ]
    by_seed = {}
    for run in result["runs"]:
        by_seed.setdefault(run["seed"], {})[run["method"]] = run
    columns = {"scratch": [], "fixed": [], "auto": []}
    for seed, runs in by_seed.items():
        fixed, auto = runs["fixed"], runs["auto"]
        chosen = auto.get("chosen", {})
        columns["scratch"].append(fixed["test_accuracy"]["student (scratch)"])
        columns["fixed"].append(fixed["test_accuracy"]["student (distilled)"])
        columns["auto"].append(auto["test_accuracy"]["student (distilled)"])
        rows.append(
            f"| {seed} | {columns['scratch'][-1]:.4f} | {columns['fixed'][-1]:.4f} "
            f"| {columns['auto'][-1]:.4f} "
            f"| alpha {chosen.get('alpha', '-')}, T {chosen.get('temperature', '-')} |"
        )
    rows.append(
        "| mean | "
        + " | ".join(_mean_std(values) for values in columns.values())
        + " | |"
    )
    return "\n".join(rows) + "\n\n" + _footer(result)


def device_budget(result):
    """Per seed: the student chosen for the budget, and the int8 student's
    test accuracy against the teacher's."""
    budget = result["budget"]
    rows = [
        "| seed | student chosen | int8 size | teacher | scratch | distilled "
        "| int8 | int8 − teacher | time |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in result["runs"]:
        accuracy = run["test_accuracy"]
        [choice] = [
            finding
            for finding in run["findings"]
            if finding["stage"] == "student_choice" and finding["kind"] == "decision"
        ]
        student = re.search(r"auto: (.+?), the largest", choice["message"])[1]
        student += f" ({choice['numbers']['parameters']:,} parameters)"
        rows.append(
            f"| {run['seed']} | {student} "
            f"| {run['size_bytes']['student int8 .tflite'] / 1024:.1f} KB "
            f"| {accuracy['teacher']:.4f} | {accuracy['student (scratch)']:.4f} "
            f"| {accuracy['student (distilled)']:.4f} "
            f"| {accuracy['student int8 .tflite']:.4f} "
            f"| {-run['int8_points_below_teacher']:+.2f} points "
            f"| {run['seconds'] / 60:.0f} min |"
        )
    teacher = result["teacher"]
    return (
        "\n".join(rows) + f"\n\nTeacher {teacher['size_kb']:.0f} KB (`.keras`), "
        f"{teacher['float32_litert_ms']:.3f} ms (float32 LiteRT, batch 1, one "
        f"thread); budget {budget['size_kb']} KB and {budget['latency_ms']:.4f} ms. "
        + _footer(result)
    )


RENDERERS = {
    "accuracy": accuracy.accuracy,
    "accuracy_methods": accuracy.accuracy_methods,
    "keras_distillation_check": accuracy.keras_distillation_check,
    "hinton_mnist": accuracy.hinton_mnist,
    "text_distillation": accuracy.text_distillation,
    "text_distillation_few_labels": accuracy.text_distillation_few_labels,
    "teachers": accuracy.teachers,
    "tokenizer_choice": accuracy.tokenizer_choice,
    "throughput": speed.throughput,
    "throughput_sharded": speed.throughput,
    "throughput_views": speed.throughput,
    "throughput_methods": speed.throughput,
    "topk": speed.topk,
    "litert": speed.litert,
    "litert_runtimes": speed.litert_runtimes,
    "pruning_latency": speed.pruning_latency,
    "optimize": speed.optimize,
    "deployment_check": speed.deployment_check,
    "device_budget": device_budget,
    "run_judgement": run_judgement,
    "auto_settings_fashion_mnist": auto_settings_fashion_mnist,
    "auto_settings_demo": auto_settings_demo,
}
"""Result name → the function that renders its table (Markdown)."""


def tables(results_dir=RESULTS):
    """Result name → its Markdown table, for every result file with a renderer."""
    rendered = {}
    for file_name in sorted(os.listdir(results_dir)):
        if not file_name.endswith(".json"):
            continue
        with open(os.path.join(results_dir, file_name), encoding="utf-8") as file:
            result = json.load(file)
        if result.get("name") in RENDERERS:
            rendered[result["name"]] = RENDERERS[result["name"]](result)
    return rendered


def with_tables(text, rendered):
    """`text` with the block of each rendered table replaced.

    Raises:
        ValueError: If a table has no block in `text`.
    """
    for name, table in rendered.items():
        pattern = re.compile(
            rf"(<!-- results:{re.escape(name)} -->\n)(?:.*?\n)?(<!-- /results:"
            rf"{re.escape(name)} -->)",
            re.DOTALL,
        )
        if not pattern.search(text):
            raise ValueError(
                f"docs/benchmarks.md has no block <!-- results:{name} --> … "
                f"<!-- /results:{name} --> for benchmarks/results/{name}.json"
            )
        text = pattern.sub(
            lambda match, table=table: match[1] + table + "\n" + match[2], text
        )
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    arguments = parser.parse_args()
    with open(DOCS, encoding="utf-8") as file:
        text = file.read()
    updated = with_tables(text, tables())
    if arguments.check:
        if updated != text:
            sys.exit("docs/benchmarks.md: tables differ from benchmarks/results")
        return
    with open(DOCS, "w", encoding="utf-8") as file:
        file.write(updated)


if __name__ == "__main__":
    main()
