"""The `kdkeras` command line (click): `run`, `init`, `export`, `report`.

Not imported by `import kdkeras`; the console script and `python -m kdkeras`
call `kdkeras.cli.main.main`.
"""
