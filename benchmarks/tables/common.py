"""What the renderers share: numbers as the tables write them, and the line
under each table that says what ran, where and when."""

import statistics


def mean_std(values, population=False):
    """`0.9041 ± 0.0013` (sample standard deviation unless `population`), or
    the one value."""
    if len(values) == 1:
        return f"{values[0]:.4f}"
    spread = statistics.pstdev(values) if population else statistics.stdev(values)
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def percent(value):
    """`+13%`, `−3%` (a real minus sign), `-` for `None`."""
    if value is None:
        return "-"
    return f"{value:+.0%}".replace("-", "−")


def table(header, rows, align=None):
    """A Markdown table: `header` (cells), `rows` (lists of cells); `align`
    a string of `l`/`r` per column (default: first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "".join("---|" if a == "l" else "---:|" for a in align),
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _records(result):
    return result.get("runs", []) + result.get("summary", [])


def _dates(result):
    dates = sorted(
        {run["date"][:10] for run in _records(result) if run.get("date")}
        | ({result["date"][:10]} if result.get("date") else set())
    )
    if not dates:
        return "date not recorded"
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


def source(result):
    """The line under a table: command(s), date(s), machine, seeds, and
    whether the numbers were transcribed from a run log."""
    commands = {run["command"] for run in _records(result) if "command" in run}
    machine = result["machine"]
    where = machine.get("description") or f"{machine['cpu_count']} CPU cores"
    if len(commands) > 1:
        what = (
            f"{len(commands)} commands (each run's in "
            f"`benchmarks/results/{result['name']}.json`)"
        )
    else:
        what = f"`{commands.pop() if commands else result['command']}`"
    line = f"{what}, {_dates(result)}, {where}, seeds {result['seeds']}."
    if "provenance" in result:
        line += " Transcribed from the run log."
    return line
