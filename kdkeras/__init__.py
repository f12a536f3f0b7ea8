"""kdkeras: knowledge distillation for Keras 3.

`import kdkeras` gives every name below but imports each one (and so
TensorFlow) only when it is first used (PEP 562 module `__getattr__`), so
that `kdkeras --help` starts in a fraction of a second: `kdkeras.Distiller`
imports `kdkeras.distillation`, `kdkeras.export` imports `kdkeras.export`.

A kdkeras Keras class is registered for `keras.saving.load_model` when its
module is imported. In a fresh process, use the class's name or import its
package before loading a file that holds it (`kdkeras.Distiller`, or
`import kdkeras.distillation`; `kdkeras.layers` for `ImageView`), or call
`kdkeras.import_all()`.
"""

import importlib
import importlib.util

from kdkeras.version import __version__

_SUBMODULES = (
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
    "offline": "kdkeras.distillation",
    "probabilities_to_logits": "kdkeras.distillation",
    "report": "kdkeras.evaluation",
    "sparsity": "kdkeras.evaluation",
    "transfer": "kdkeras.models",
}
"""Names of `kdkeras` defined in a subpackage → that subpackage."""

__all__ = ["__version__", "import_all", *_SUBMODULES, *_SHORTCUTS]


def import_all():
    """Imports every kdkeras package, as `import kdkeras` did before it was lazy.

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
