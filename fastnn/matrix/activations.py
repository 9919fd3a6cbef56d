"""Activation layers, matrix form: the same functions as :mod:`fastnn.loops.activations`
written as whole-array NumPy expressions.
"""

import numpy as np

from .. import _checks, _docs

__all__ = [
    "identity", "identity_backward", "relu", "relu_backward", "sigmoid",
    "sigmoid_backward", "tanh", "tanh_backward", "softmax",
]


def _sigmoid(x, out):
    # the same stable formula as the loop form: e^(−|x|) never overflows
    e = np.exp(-np.abs(x))
    np.divide(1, 1 + e, out=out)
    np.multiply(out, e, out=out, where=x < 0)
    return out


def identity(x, out=None, *, check_finite=True):
    x, y = _checks.activation_args(x, out, check_finite)
    np.copyto(y, x)
    return y


def identity_backward(x, dy, out=None, *, check_finite=True):
    x, dy, dx = _checks.activation_backward_args(x, dy, out, check_finite)
    np.copyto(dx, dy)
    return dx


def relu(x, out=None, *, check_finite=True):
    x, y = _checks.activation_args(x, out, check_finite)
    np.maximum(x, 0, out=y)
    return y


def relu_backward(x, dy, out=None, *, check_finite=True):
    x, dy, dx = _checks.activation_backward_args(x, dy, out, check_finite)
    np.multiply(dy, x > 0, out=dx)
    return dx


def sigmoid(x, out=None, *, check_finite=True):
    x, y = _checks.activation_args(x, out, check_finite)
    return _sigmoid(x, y)


def sigmoid_backward(x, dy, out=None, *, check_finite=True):
    x, dy, dx = _checks.activation_backward_args(x, dy, out, check_finite)
    s = _sigmoid(x, np.empty_like(x))
    np.multiply(s * (1 - s), dy, out=dx)
    return dx


def tanh(x, out=None, *, check_finite=True):
    x, y = _checks.activation_args(x, out, check_finite)
    np.tanh(x, out=y)
    return y


def tanh_backward(x, dy, out=None, *, check_finite=True):
    x, dy, dx = _checks.activation_backward_args(x, dy, out, check_finite)
    t = np.tanh(x)
    np.multiply(1 - t * t, dy, out=dx)
    return dx


def softmax(z, out=None, *, check_finite=True):
    """Row-wise softmax, ``P = exp(Z − max) / Σ exp(Z − max)``.

    See :func:`fastnn.loops.softmax` for the parameters.
    """
    z, p = _checks.activation_args(z, out, check_finite)
    np.subtract(z, z.max(axis=1, keepdims=True), out=p)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


# one docstring per function, shared with its loop-form twin
for _f in (identity, identity_backward, relu, relu_backward, sigmoid, sigmoid_backward, tanh, tanh_backward):
    _f.__doc__ = _docs.ACTIVATIONS[_f.__name__]
del _f
