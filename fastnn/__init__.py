"""fastnn: multilayer perceptrons trained on the CPU with backpropagation written as
per-neuron Numba loops (:mod:`fastnn.loops`), next to a NumPy matrix-product reference
of the same signatures (:mod:`fastnn.matrix`).
"""

from . import data, loops, matrix, paths
from .network import Dense, Identity, Layer, Network, ReLU, Sigmoid, Tanh
from .train import History, Trainer, fit

__version__ = "0.1.0"

__all__ = [
    "Network", "Layer", "Dense", "Identity", "ReLU", "Sigmoid", "Tanh",
    "fit", "History", "Trainer", "loops", "matrix", "paths", "data", "__version__",
]
