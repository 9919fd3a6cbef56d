"""Activation layers, loop form: ``y^i = σ(x_i)`` and ``dx_i = σ'(x_i) · dy^i``.

identity  σ(x) = x                      σ' = 1
relu      σ(x) = max(0, x)              σ'(x) = 1 if x > 0 else 0
sigmoid   σ(x) = 1 / (1 + e^(−x))       σ' = σ(x)(1 − σ(x))
tanh      σ(x) = tanh(x)                σ' = 1 − tanh²(x)
softmax   p_k = e^(z_k − m) / Σ_c e^(z_c − m),  m = max_c z_c   (row-wise)

The elementwise kernels work on flat arrays and share one block function that
branches on an activation code (:mod:`fastnn._codes`), so the fused network step
can pick an activation per layer.  Large arrays are split into fixed blocks of
:data:`BLOCK` elements; the split does not depend on the thread count, so results do
not either.
"""

import numpy as np
from numba import prange, types

from .. import _checks, _docs
from .._codes import IDENTITY, RELU, SIGMOID, TANH
from .._config import PARALLEL, PARALLEL_MIN_ELEMENTS, ROW_BLOCK, SERIAL
from .._jit import jit, unit

__all__ = [
    "identity", "identity_backward", "relu", "relu_backward", "sigmoid",
    "sigmoid_backward", "tanh", "tanh_backward", "softmax",
]

BLOCK = 4096


@jit(**SERIAL)
def _sigmoid(v):
    # e^(−|v|) never overflows; for v < 0, σ(v) = e^v / (1 + e^v) = e·s
    e = np.exp(-abs(v))
    s = 1 / (1 + e)
    return s if v >= 0 else e * s


@jit(**SERIAL)
def _forward_block(code, x, y, k0, k1):
    # views that start at k0: with `x[k]` for k in range(x.size) Numba's
    # negative-index wraparound defeats vectorization (docs/design-notes.md)
    x, y = x[k0:k1], y[k0:k1]
    if code == RELU:
        # written so that NaN passes through, as in np.maximum(x, 0): `x if x > 0
        # else 0` would turn a NaN into 0 and hide a diverging network from the loss
        for k in range(x.size):
            y[k] = 0 if x[k] <= 0 else x[k]
    elif code == SIGMOID:
        for k in range(x.size):
            y[k] = _sigmoid(x[k])
    elif code == TANH:
        for k in range(x.size):
            y[k] = np.tanh(x[k])
    else:
        for k in range(x.size):
            y[k] = x[k]


@jit(**SERIAL)
def _backward_block(code, x, dy, dx, k0, k1):
    x, dy, dx = x[k0:k1], dy[k0:k1], dx[k0:k1]
    if code == RELU:
        # σ'(x) · dy as a product, like the matrix form: a NaN or inf in dy stays
        # visible (0 · inf = NaN) instead of being masked to 0 where x <= 0
        for k in range(x.size):
            dx[k] = dy[k] * (1 if x[k] > 0 else 0)
    elif code == SIGMOID:
        for k in range(x.size):
            s = _sigmoid(x[k])
            dx[k] = s * (1 - s) * dy[k]
    elif code == TANH:
        for k in range(x.size):
            t = np.tanh(x[k])
            dx[k] = (1 - t * t) * dy[k]
    else:
        for k in range(x.size):
            dx[k] = dy[k]


@unit(returns=types.none, **PARALLEL)
def _forward_parallel(code, x, y):
    size = x.size
    for blk in prange((size + BLOCK - 1) // BLOCK):
        k0 = blk * BLOCK
        _forward_block(code, x, y, k0, min(k0 + BLOCK, size))


@unit(returns=types.none, **PARALLEL)
def _backward_parallel(code, x, dy, dx):
    size = x.size
    for blk in prange((size + BLOCK - 1) // BLOCK):
        k0 = blk * BLOCK
        _backward_block(code, x, dy, dx, k0, min(k0 + BLOCK, size))


@jit(**SERIAL)
def _activation_forward(code, x, y):
    """y = σ(x) elementwise over flat arrays x, y."""
    if x.size >= PARALLEL_MIN_ELEMENTS:
        _forward_parallel(code, x, y)
    else:
        _forward_block(code, x, y, 0, x.size)


@jit(**SERIAL)
def _activation_backward(code, x, dy, dx):
    """dx = σ'(x) · dy elementwise over flat arrays."""
    if x.size >= PARALLEL_MIN_ELEMENTS:
        _backward_parallel(code, x, dy, dx)
    else:
        _backward_block(code, x, dy, dx, 0, x.size)


@jit(**SERIAL)
def _softmax_rows(z, p, n0, n1):
    k = z.shape[1]
    for n in range(n0, n1):
        m = z[n, 0]
        for c in range(1, k):
            m = max(m, z[n, c])
        s = z[n, 0] - z[n, 0]
        for c in range(k):
            p[n, c] = np.exp(z[n, c] - m)
            s += p[n, c]
        inv = 1 / s
        for c in range(k):
            p[n, c] *= inv


@unit(returns=types.none, **PARALLEL)
def _softmax_parallel(z, p):
    rows = z.shape[0]
    for blk in prange((rows + ROW_BLOCK - 1) // ROW_BLOCK):
        n0 = blk * ROW_BLOCK
        _softmax_rows(z, p, n0, min(n0 + ROW_BLOCK, rows))


@jit(**SERIAL)
def _softmax(z, p):
    if z.size >= PARALLEL_MIN_ELEMENTS and z.shape[0] > ROW_BLOCK:
        _softmax_parallel(z, p)
    else:
        _softmax_rows(z, p, 0, z.shape[0])


def _forward(code, x, out, check_finite):
    x, y = _checks.activation_args(x, out, check_finite)
    _activation_forward(code, x.reshape(-1), y.reshape(-1))
    return y


def _backward(code, x, dy, out, check_finite):
    x, dy, dx = _checks.activation_backward_args(x, dy, out, check_finite)
    _activation_backward(code, x.reshape(-1), dy.reshape(-1), dx.reshape(-1))
    return dx


def identity(x, out=None, *, check_finite=True):
    return _forward(IDENTITY, x, out, check_finite)


def identity_backward(x, dy, out=None, *, check_finite=True):
    return _backward(IDENTITY, x, dy, out, check_finite)


def relu(x, out=None, *, check_finite=True):
    return _forward(RELU, x, out, check_finite)


def relu_backward(x, dy, out=None, *, check_finite=True):
    return _backward(RELU, x, dy, out, check_finite)


def sigmoid(x, out=None, *, check_finite=True):
    return _forward(SIGMOID, x, out, check_finite)


def sigmoid_backward(x, dy, out=None, *, check_finite=True):
    return _backward(SIGMOID, x, dy, out, check_finite)


def tanh(x, out=None, *, check_finite=True):
    return _forward(TANH, x, out, check_finite)


def tanh_backward(x, dy, out=None, *, check_finite=True):
    return _backward(TANH, x, dy, out, check_finite)


# one docstring per function, shared with its matrix-form twin
for _f in (identity, identity_backward, relu, relu_backward, sigmoid, sigmoid_backward, tanh, tanh_backward):
    _f.__doc__ = _docs.ACTIVATIONS[_f.__name__]
del _f


def softmax(z, out=None, *, check_finite=True):
    """Row-wise softmax, computed stably by subtracting each row's maximum.

    Parameters
    ----------
    z : ndarray, shape (n, k)
        Logits.
    out : ndarray, shape (n, k), optional
        Buffer for the result; allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs.

    Returns
    -------
    p : ndarray, shape (n, k)
        Each row is a probability distribution.
    """
    z, p = _checks.activation_args(z, out, check_finite)
    _softmax(z, p)
    return p
