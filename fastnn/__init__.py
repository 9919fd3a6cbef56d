"""fastnn: multilayer perceptrons trained on the CPU with backpropagation written as
per-neuron Numba loops (:mod:`fastnn.loops`), next to a NumPy matrix-product reference
of the same signatures (:mod:`fastnn.matrix`).
"""

from . import loops, matrix, paths

__version__ = "0.1.0"

__all__ = ["loops", "matrix", "paths", "__version__"]
