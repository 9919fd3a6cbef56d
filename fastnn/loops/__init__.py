"""Loop form: the per-neuron formulas of backpropagation as Numba-compiled loops.

Every public function here has a twin of the same name and signature in
:mod:`fastnn.matrix` that gives the same result with NumPy matrix products.
"""

from .activations import (identity, identity_backward, relu, relu_backward, sigmoid,
                          sigmoid_backward, softmax, tanh, tanh_backward)
from .dense import dense_backward_input, dense_backward_params, dense_forward, dense_sgd_update
from .losses import half_sse, mse, poisson, sigmoid_cross_entropy, softmax_cross_entropy

__all__ = [
    "dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update",
    "identity", "identity_backward", "relu", "relu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "softmax", "mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy",
    "poisson",
]
