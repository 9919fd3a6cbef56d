"""fastnn: multilayer perceptrons trained on the CPU with backpropagation written as
per-neuron Numba loops (:mod:`fastnn.loops`), next to a NumPy matrix-product reference
of the same signatures (:mod:`fastnn.matrix`).
"""

import importlib

from . import loops, matrix
from .layers import Dense, Identity, Layer, ReLU, Sigmoid, Tanh, dense_stack
from .network import Network
from .train import History, Trainer, fit

__version__ = "0.1.0"

__all__ = [
    "Network", "Layer", "Dense", "Identity", "ReLU", "Sigmoid", "Tanh", "dense_stack",
    "fit", "History", "Trainer", "loops", "matrix", "paths", "data", "__version__",
]

# Imported on first use: the data loaders bring zipfile, gzip and importlib.resources,
# which a process that only trains on its own arrays never needs; the path form is
# for the tests and the curious.
_LAZY = {"data", "paths"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
