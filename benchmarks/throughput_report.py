"""The report of `throughput.py`: samples/second, ratios, goals, disturbance.

Each variant's median samples/second and CPU time per epoch, its ratio to
plain training, the paired (per-repetition) ratios, whether the goals below
are met, and whether other processes used the CPU during the timed epochs
(`busy_cpu_seconds`, read around each epoch by `throughput.Variant`).
"""

import os
import statistics

OFFLINE_GOAL = 0.98
"""Offline distillation should train at least this fraction of plain speed."""

VIEWS_GOAL = 0.95
"""Training from the view cache vs plain training on the same views."""

SHARDED_GOAL = 0.95
"""Training from the streamed, sharded logit cache vs plain training, and from
the sharded view cache vs plain training on the same views."""

BUSY_SHARE = 0.05
"""An epoch during which other processes (or the hypervisor, as steal time) used
more CPU than this fraction of its wall time counts as disturbed."""


def print_report(variants, num_samples, batch_size, repeats, logits_seconds):
    """Prints each variant's speed and the ratios to their baselines.

    Returns:
        offline / plain (median samples/second), or `None` when the offline
        row was not timed (`--sharded-only`, `--views-only`).
    """
    rates = {v.name: [num_samples / seconds for seconds in v.seconds] for v in variants}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    plain = medians["plain"]
    width = max(len(v.name) for v in variants)
    print()
    print(
        f"{num_samples} samples/epoch, batch size {batch_size}, {repeats} timed "
        f"epochs per variant (interleaved); teacher logits computed once in "
        f"{logits_seconds:.1f} s"
    )
    header = (
        f"{'variant':<{width}}  {'samples/s':>9}  {'min':>6}  {'max':>6}  "
        f"{'s/epoch':>7}  {'CPU s/epoch':>11}  {'vs plain':>8}"
    )
    print(header)
    print("-" * len(header))
    for v in variants:
        median = medians[v.name]
        print(
            f"{v.name:<{width}}  {median:>9.0f}  {min(rates[v.name]):>6.0f}  "
            f"{max(rates[v.name]):>6.0f}  {statistics.median(v.seconds):>7.3f}  "
            f"{statistics.median(v.cpu_seconds):>11.3f}  {median / plain:>7.3f}x"
        )
    print()
    ratios = {}
    for name in ("online", "offline"):
        if name not in medians:
            continue  # --sharded-only, --views-only
        ratios[name] = medians[name] / plain
        paired = paired_ratio(rates, name, "plain")
        ratios[name + " paired"] = paired
        print(
            f"{name + ' / plain:':<16} {ratios[name]:.3f}  (median of the "
            f"per-repetition ratios: {paired:.3f})"
        )
    if "views cache" in medians:
        views_ratio = medians["views cache"] / medians["plain, views"]
        print(
            f"{'views cache / plain, views:':<16} {views_ratio:.3f}  (goal >= "
            f"{VIEWS_GOAL:.2f}: {'met' if views_ratio >= VIEWS_GOAL else 'NOT met'})"
        )
    for name, baseline in (
        ("sharded cache", "plain"),
        ("sharded views cache", "plain, views"),
    ):
        if name in medians:
            print_sharded_ratio(variants, rates, medians, name, baseline)
    if "offline" not in ratios:
        return None
    met = ratios["offline"] >= OFFLINE_GOAL
    print(
        f"goal offline >= {OFFLINE_GOAL:.2f} x plain: {'met' if met else 'NOT met'} "
        f"({ratios['offline']:.4f})"
    )
    if met != (ratios["offline paired"] >= OFFLINE_GOAL):
        print(
            "  (the per-repetition ratios say otherwise: the machine drifted "
            "during the run; rerun, or raise --repeats)"
        )
    return ratios["offline"]


def paired_ratio(rates, name, baseline):
    """The median of the per-repetition ratios of `name`'s rate to `baseline`'s.

    The two ran back to back in each repetition: robust to drifts of the machine.
    """
    return statistics.median(
        rate / baseline_rate
        for rate, baseline_rate in zip(rates[name], rates[baseline], strict=True)
    )


def print_sharded_ratio(variants, rates, medians, name, baseline):
    """Prints a sharded cache's speed and CPU time against `baseline`'s."""
    ratio = medians[name] / medians[baseline]
    cpu_seconds = {
        v.name: statistics.median(v.cpu_seconds)
        for v in variants
        if v.name in (name, baseline)
    }
    print(
        f"{name} / {baseline}: {ratio:.3f}  (median of the per-repetition "
        f"ratios: {paired_ratio(rates, name, baseline):.3f}; CPU time per epoch, "
        f"{baseline} / {name}: {cpu_seconds[baseline] / cpu_seconds[name]:.3f}; "
        f"goal >= {SHARDED_GOAL:.2f}: {'met' if ratio >= SHARDED_GOAL else 'NOT met'})"
    )


BASELINES = {
    "online": "plain",
    "offline": "plain",
    "views cache": "plain, views",
    "sharded cache": "plain",
    "sharded views cache": "plain, views",
}
"""The baseline of each variant in the ratios, by default."""


def summary(variants, num_samples, baselines=None):
    """The report's numbers for the result file: each variant's row and the
    ratios of the variants to their baselines (`baselines`, by default
    `BASELINES`; median samples/second, the median of the per-repetition
    ratios, and CPU seconds)."""
    rates = {v.name: [num_samples / seconds for seconds in v.seconds] for v in variants}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    rows = [
        {
            "variant": v.name,
            "samples_per_s": round(medians[v.name]),
            "min": round(min(rates[v.name])),
            "max": round(max(rates[v.name])),
            "s_per_epoch": round(statistics.median(v.seconds), 3),
            "cpu_s_per_epoch": round(statistics.median(v.cpu_seconds), 3),
            "vs_plain": round(medians[v.name] / medians["plain"], 3),
            "epoch_seconds": [round(seconds, 3) for seconds in v.seconds],
        }
        for v in variants
    ]
    cpu = {row["variant"]: row["cpu_s_per_epoch"] for row in rows}
    ratios = {}
    for name, baseline in (baselines or BASELINES).items():
        if name in medians and baseline in medians:
            ratios[f"{name} / {baseline}"] = {
                "median": round(medians[name] / medians[baseline], 3),
                "paired": round(paired_ratio(rates, name, baseline), 3),
                "cpu": round(cpu[baseline] / cpu[name], 3),
            }
    return {"variants": rows, "ratios": ratios}


def busy_cpu_seconds():
    """CPU seconds all processes have used since boot (Linux), or `None`."""
    try:
        with open("/proc/stat") as file:
            fields = [int(value) for value in file.readline().split()[1:]]
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / ticks


def report_disturbance(variants):
    """Says whether other processes used the CPU while epochs were timed."""
    if not all(v.others_cpu_seconds for v in variants):
        return  # no /proc/stat
    total = sum(sum(v.others_cpu_seconds) for v in variants)
    wall = sum(sum(v.seconds) for v in variants)
    disturbed = sum(
        # /proc/stat counts in ticks of 10 ms: ignore less than 5 ticks.
        others > max(BUSY_SHARE * seconds, 0.05)
        for v in variants
        for others, seconds in zip(v.others_cpu_seconds, v.seconds, strict=True)
    )
    epochs = sum(len(v.seconds) for v in variants)
    measured = {
        "others_cpu_seconds": round(total, 1),
        "timed_seconds": round(wall),
        "epochs_disturbed": f"{disturbed} of {epochs}",
    }
    print(
        f"other processes used {total:.1f} CPU s during the {wall:.0f} s of "
        f"timed epochs; {disturbed} of {epochs} epochs disturbed"
    )
    if disturbed:
        print(
            "WARNING: the machine was not idle; the timings are unreliable. "
            "Rerun when nothing else is running."
        )
    return measured
