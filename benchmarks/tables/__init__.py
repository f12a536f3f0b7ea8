"""Renderers of the tables of `docs/benchmarks.md`, one function per result
file (by its `name`); `benchmarks/result_tables.py` collects them."""
