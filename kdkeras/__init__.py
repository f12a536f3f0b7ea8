"""kdkeras: knowledge distillation for Keras 3.

`import kdkeras` imports every package (`import_all`), so all of kdkeras'
Keras classes are registered and `keras.saving.load_model` reads any file
that holds them.

One exception keeps the command line fast: when this process *is* the
command line (the `kdkeras` console script, or `python -m kdkeras`), the
packages are imported only when first used (PEP 562 module `__getattr__`),
so `kdkeras --help` starts in a fraction of a second instead of waiting
~10 s for TensorFlow; the commands that load `.keras` files call
`import_all()` first.
"""

import importlib
import importlib.util
import os
import sys

from kdkeras.version import __version__

_SUBMODULES = (
    "augmentation",
    "caches",
    "datasets",
    "distillation",
    "evaluation",
    "export",
    "layers",
    "litert",
    "losses",
    "models",
    "optimize",
)
_SHORTCUTS = {
    "Distiller": "kdkeras.distillation",
    "NonFiniteLossError": "kdkeras.distillation",
    "RaiseOnNonFiniteLoss": "kdkeras.distillation",
    "probabilities_to_logits": "kdkeras.distillation",
    "report": "kdkeras.evaluation",
    "sparsity": "kdkeras.evaluation",
    "transfer": "kdkeras.models",
}
"""Names of `kdkeras` defined in a subpackage → that subpackage."""

__all__ = ["__version__", "import_all", *_SUBMODULES, *_SHORTCUTS]


def import_all():
    """Imports every kdkeras package (what `import kdkeras` does in a script).

    Registers all of kdkeras' Keras classes (`Distiller`, `ImageView`, the
    losses, schedules and feature projections), so that
    `keras.saving.load_model` reads any file that holds them.
    """
    for name in _SUBMODULES:
        importlib.import_module(f"kdkeras.{name}")
    for name in _SHORTCUTS:
        __getattr__(name)


def __getattr__(name):
    # A subpackage's own `from kdkeras import batches` lands here too: import
    # only what is asked for, never more, so no import cycle can start here.
    if name in _SHORTCUTS:
        value = getattr(importlib.import_module(_SHORTCUTS[name]), name)
    elif name in _SUBMODULES or _is_module(name):
        # Other modules too (`kdkeras.validation`), as an eager import reached.
        value = importlib.import_module(f"kdkeras.{name}")
    else:
        raise AttributeError(f"module 'kdkeras' has no attribute {name!r}")
    globals()[name] = value
    return value


def _is_module(name):
    return not name.startswith("_") and (
        importlib.util.find_spec(f"kdkeras.{name}") is not None
    )


def __dir__():
    return sorted({*globals(), *__all__})


def _started_as_command_line():
    """Whether this process is `kdkeras ...` or `python -m kdkeras ...`.

    `sys.argv[0]` is the console script's path in the first case and `"-m"`
    while `python -m` imports the package in the second.
    """
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program in ("kdkeras", "kdkeras.exe", "-m")


if not _started_as_command_line():
    import_all()
