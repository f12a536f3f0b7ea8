"""Speed, size and cost: `throughput*.py`, `topk.py`, `litert.py`,
`pruning_latency.py`, `optimize.py`, `deployment_check.py`."""

import statistics

from tables.common import source, table


def _ratio(value):
    text = f"{value['median']:.3f}"
    extra = [f"paired {value['paired']:.3f}"] if "paired" in value else []
    extra += [f"CPU {value['cpu']:.3f}"] if "cpu" in value else []
    return text + (f" ({', '.join(extra)})" if extra else "")


def throughput(result):
    """One row per recorded run (its ratios), then each run's variant table."""
    rows = [
        [
            run.get("date", "")[:10] or "-",
            f"`{run['command']}`",
            run.get("conditions", "-"),
            run.get("epochs_disturbed", "-"),
            "; ".join(f"{name} {_ratio(v)}" for name, v in run["ratios"].items()),
        ]
        for run in result["runs"]
    ]
    parts = [
        table(
            ["date", "command", "machine", "epochs disturbed", "ratios"],
            rows,
            "lllrl",
        )
    ]
    for run in result["runs"]:
        if "variants" not in run:
            continue
        parts.append(
            f"`{run['command']}`, {run['date'][:10]}:\n\n"
            + table(
                ["variant", "samples/s", "min", "max", "s/epoch", "CPU s/epoch"]
                + ["vs plain"],
                [
                    [v["variant"], v["samples_per_s"], v["min"], v["max"]]
                    + [f"{v['s_per_epoch']:.3f}", f"{v['cpu_s_per_epoch']:.3f}"]
                    + [f"{v['vs_plain']:.3f}×"]
                    for v in run["variants"]
                ],
            )
        )
    goals = ", ".join(f"{name} ≥ {goal}" for name, goal in result["goals"].items())
    return (
        "\n\n".join(parts)
        + "\n\nRatios: median samples/second against the baseline's (paired: "
        "the median of the per-repetition ratios; CPU: the baseline's CPU "
        f"seconds per epoch over the variant's). Goals: {goals}. " + source(result)
    )


def _error(value):
    return "0" if value == 0 else f"{value:.2e}"


def topk(result):
    """Per set: bytes per example and the KD-loss error of each k."""
    parts = []
    for measured in result["sets"]:
        full = measured["full"]
        temperatures = list(full["kd_loss"])
        rows = [
            ["full", full["bytes_per_example"], f"{full['on_disk']:.1f}", "1"]
            + sum(([f"0 (KD {full['kd_loss'][t]:.4f})", "0"] for t in temperatures), [])
        ]
        for row in measured["top_k"]:
            errors = row["kd_loss_error"]
            rows.append(
                [row["k"], row["bytes_per_example"], f"{row['on_disk']:.1f}"]
                + [f"{row['vs_full']:.3f}"]
                + sum(
                    (
                        [
                            _error(errors[t]["mean_abs_diff"]),
                            _error(errors[t]["relative"]),
                        ]
                        for t in temperatures
                    ),
                    [],
                )
            )
        header = ["k", "bytes/example (6k + 4)", "on disk", "vs full"]
        for t in temperatures:
            header += [f"T = {t}: mean abs diff", "relative"]
        parts.append(
            f"{measured['set']} ({measured['examples']:,} examples, "
            f"{measured['classes']:,} classes; teacher: {measured['teacher']}):\n\n"
            + table(header, rows)
        )
    return "\n\n".join(parts) + "\n\n" + source(result)


def litert(result):
    """Per model: sizes, batch-1 latencies and accuracies, float32 and int8."""
    rows = []
    for model in result["models"]:
        f, i = model["float32"], model["int8"]
        accuracy = (
            f"{f['accuracy']:.4f} / {i['accuracy']:.4f}"
            if f.get("accuracy") is not None
            else "-"
        )
        rows.append(
            [model["model"], f"{model['parameters']:,}", f["size"], i["size"]]
            + [f"{model['size_ratio']:.3f}", f"{f['ms']:.3f}", f"{i['ms']:.3f}"]
            + [f"{model['speedup']:.2f}×", accuracy]
        )
    models = table(
        ["model", "parameters", "float32 size", "int8 size", "size ratio"]
        + ["float32 ms", "int8 ms", "speed-up", "accuracy float32 / int8"],
        rows,
        "lrrrrrrrl",
    )
    ratios = table(
        ["ratio", "measured"],
        [[name, f"{value:.3g}×"] for name, value in result["ratios"].items()],
    )
    return (
        f"{models}\n\n{ratios}\n\nStudent int8 against its Keras model: top-1 "
        f"agreement {result['student_int8_agreement']:.4f}. Batch 1, "
        f"{result['threads']} interpreter thread, median of {result['rounds']} "
        f"interleaved rounds of {result['runs_per_round']} runs (largest max/min "
        f"of a variant's round medians {result['largest_round_spread']:.2f}). "
        + source(result)
    )


def pruning_latency(result):
    """Per file: median latency and gzipped size, and pruned / dense ratios."""
    files = {row["file"]: row for row in result["files"]}
    rows = []
    for name, row in files.items():
        dense = files["dense " + name.split()[-1]]
        ratios = (
            ["-", "-"]
            if name.startswith("dense")
            else [
                f"{row['median_ms'] / dense['median_ms']:.2f}",
                f"{row['gzipped_kb'] / dense['gzipped_kb']:.2f}",
            ]
        )
        rows.append(
            [name, f"{row['median_ms']:.4f}", f"{row['gzipped_kb']:.1f} KB", *ratios]
        )
    sparsity = ", ".join(f"{v:.3f}" for v in result["sparsity"].values())
    return (
        table(
            ["file", "median ms", "gzipped", "pruned / dense latency"]
            + ["pruned / dense gzipped"],
            rows,
        )
        + f"\n\nReal sparsity {sparsity}; batch 1, one thread, {result['rounds']} "
        f"interleaved rounds of {result['runs_per_round']} runs. " + source(result)
    )


def optimize(result):
    """The rows `benchmarks/optimize.py` prints."""

    def cell(value, template):
        return "-" if value is None else template.format(value)

    rows = [
        [
            row["model"],
            cell(row["accuracy"], "{:.2%}"),
            row["measured with"],
            cell(row.get("agreement"), "{:.2%}"),
            cell(row.get("sparsity"), "{:.1%}"),
            row["size"],
            row["gzipped"],
            cell(row["train s"], "{:.0f}"),
        ]
        for row in result["rows"]
    ]
    return (
        table(
            ["model", "accuracy", "measured with", "agreement", "sparsity", "size"]
            + ["gzipped", "train s"],
            rows,
            "lrlrrrrr",
        )
        + f"\n\n{result['images']['train']:,} training and "
        f"{result['images']['test']:,} test images; {result['seconds']} s in all. "
        + source(result)
    )


def deployment_check(result):
    """Per epoch: training and checking time, wall and CPU."""
    runs = result["runs"]
    rows = [
        [run["epoch"]]
        + [f"{run['train_seconds'][k]:.1f}" for k in ("wall", "cpu")]
        + [f"{run['check_seconds'][k]:.1f}" for k in ("wall", "cpu")]
        for run in runs
    ]
    steady = runs[1:] or runs

    def median(part, kind):
        return statistics.median(run[part][kind] for run in steady)

    return (
        table(
            ["epoch", "train wall s", "train CPU s", "check wall s", "check CPU s"],
            rows,
        )
        + "\n\nAfter the first epoch (medians): a check "
        f"{median('check_seconds', 'cpu'):.1f} "
        f"CPU s against {median('train_seconds', 'cpu'):.1f} s of training "
        f"({median('check_seconds', 'wall'):.1f} s against "
        f"{median('train_seconds', 'wall'):.1f} s of wall time). "
        f"{result['parameters']:,} parameters, {result['training_images']:,} "
        f"training images, {result['held_out_images']} held out, load average "
        f"{result['load_average']}. " + source(result)
    )


def litert_runtimes(result):
    """Per model, file and threads: the interpreter's and `CompiledModel`'s
    median batch-1 time, and their ratio."""
    rows = [
        [
            run["model"],
            run["file"],
            run["num_threads"],
            f"{run['interpreter_ms']:.4f}",
            f"{run['compiled_model_ms']:.4f}",
            f"{run['ratio']:.2f}",
        ]
        for run in result["runs"]
    ]
    return (
        table(
            [
                "model",
                "file",
                "threads",
                "Interpreter ms",
                "CompiledModel ms",
                "Interpreter / CompiledModel",
            ],
            rows,
            align="llrrrr",
        )
        + f"\n\nMedian of {result['rounds']} interleaved rounds of "
        f"{result['runs_per_timing']} batch-1 runs each. " + source(result)
    )
