"""Dense layer, loop form: the per-neuron sums of docs/formulas.md as Numba loops.

forward          y[n, j]  = Σ_i x[n, i] · w[i, j] + b[j]
input gradient   dx[n, i] = Σ_j w[i, j] · dy[n, j]
weight gradient  dw[i, j] = Σ_n x[n, i] · dy[n, j],   db[j] = Σ_n dy[n, j]
fused SGD update w[i, j] ← w[i, j] − lr · Σ_n x[n, i] · dy[n, j],   b[j] ← b[j] − lr · Σ_n dy[n, j]

Small problems (below :data:`DIRECT_MAX_FLOPS` multiply-adds) run the sums as
written, row by row (``_direct_*``): nothing to allocate, nothing to pack.  (They are
units, see :mod:`fastnn._jit`: a network with no small layer never compiles them.)
Larger ones run one register-blocked GEMM for all four products
(:mod:`fastnn.loops._gemm`, where the design is written down).
"""

import numpy as np
from numba import types

from .. import _checks
from .._config import SERIAL
from .._jit import jit, unit
from ._gemm import MODE_BIAS, MODE_SGD, MODE_STORE, _gemm

__all__ = ["dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update"]

DIRECT_MAX_FLOPS = 1 << 14
"""Below this many multiply-adds a dense kernel runs the plain loops: packing and
its allocations would cost more than the arithmetic (docs/design-notes.md)."""


@unit(returns=types.none, **SERIAL)
def _direct_forward(x, w, b, y, n0, n1):
    n_in, n_out = w.shape
    for n in range(n0, n1):
        for j in range(n_out):
            y[n, j] = b[j]
        # i outside j: the inner loop runs along a row of w and a row of y, both
        # contiguous, so it vectorizes; x[n, i] stays in a register.
        for i in range(n_in):
            x_ni = x[n, i]
            for j in range(n_out):
                y[n, j] += x_ni * w[i, j]


@unit(returns=types.none, **SERIAL)
def _direct_backward_input(dy, w, dx, n0, n1):
    n_in, n_out = w.shape
    for n in range(n0, n1):
        for i in range(n_in):
            # the sum over j reads a row of w and a row of dy: contiguous, and
            # `reassoc` lets LLVM split it into vector lanes
            s = dy[n, 0] * w[i, 0]
            for j in range(1, n_out):
                s += w[i, j] * dy[n, j]
            dx[n, i] = s


@unit(returns=types.none, **SERIAL)
def _direct_weight_gradient(x, dy, dw, i0, i1):
    n_out = dy.shape[1]
    for i in range(i0, i1):
        for j in range(n_out):
            dw[i, j] = 0
        # n outside j: the sum over samples is accumulated a whole row dw[i, :] at
        # a time, reading rows of dy contiguously.
        for n in range(x.shape[0]):
            x_ni = x[n, i]
            for j in range(n_out):
                dw[i, j] += x_ni * dy[n, j]


@jit(**SERIAL)
def _bias_gradient(dy, db):
    for j in range(dy.shape[1]):
        db[j] = 0
    for n in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            db[j] += dy[n, j]


@unit(returns=types.none, **SERIAL)
def _direct_sgd_update(x, dy, w, lr, i0, i1):
    n_out = dy.shape[1]
    g = np.empty(n_out, dtype=w.dtype)
    for i in range(i0, i1):
        # the gradient row is completed before the step, as in the formula: the sum
        # over the batch, then one multiply by lr
        for j in range(n_out):
            g[j] = 0
        for n in range(x.shape[0]):
            x_ni = x[n, i]
            for j in range(n_out):
                g[j] += x_ni * dy[n, j]
        for j in range(n_out):
            w[i, j] -= lr * g[j]



@jit(**SERIAL)
def _dense_forward(x, w, b, y):
    n, n_in = x.shape
    n_out = w.shape[1]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_forward(x, w, b, y, 0, n)
    else:
        _gemm(x, False, w, True, n, n_out, n_in, MODE_BIAS, y, b, y.dtype.type(0))


@jit(**SERIAL)
def _dense_backward_input(dy, w, dx):
    n, n_out = dy.shape
    n_in = w.shape[0]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_backward_input(dy, w, dx, 0, n)
    else:
        _gemm(dy, False, w, False, n, n_in, n_out, MODE_STORE, dx, dx[0, :0], dx.dtype.type(0))


@jit(**SERIAL)
def _dense_backward_params(x, dy, dw, db):
    n, n_in = x.shape
    n_out = dy.shape[1]
    _bias_gradient(dy, db)
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_weight_gradient(x, dy, dw, 0, n_in)
    else:
        _gemm(x, True, dy, True, n_in, n_out, n, MODE_STORE, dw, db, dw.dtype.type(0))


@jit(**SERIAL)
def _dense_sgd_update(x, dy, w, b, lr):
    n, n_in = x.shape
    n_out = dy.shape[1]
    if n * n_in * n_out < DIRECT_MAX_FLOPS:
        _direct_sgd_update(x, dy, w, lr, 0, n_in)
    else:
        _gemm(x, True, dy, True, n_in, n_out, n, MODE_SGD, w, b, lr)
    db = np.empty_like(b)
    _bias_gradient(dy, db)
    for j in range(b.shape[0]):
        b[j] -= lr * db[j]


def dense_forward(x, w, b, out=None, *, check_finite=True):
    """Forward pass of a dense layer: ``y[n, j] = Σ_i x[n, i] w[i, j] + b[j]``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        Inputs, one row per sample.
    w : ndarray, shape (n_in, n_out)
        Weights; ``w[i, j]`` connects input ``i`` to output ``j``.
    b : ndarray, shape (n_out,)
        Biases.
    out : ndarray, shape (n, n_out), optional
        Buffer for the result (C-contiguous, writeable, same dtype); allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs with a ``ValueError``.

    Returns
    -------
    y : ndarray, shape (n, n_out)
        Same dtype as the inputs (float32 or float64).
    """
    x, w, b, y = _checks.dense_forward_args(x, w, b, out, check_finite)
    _dense_forward(x, w, b, y)
    return y


def dense_backward_input(dy, w, out=None, *, check_finite=True):
    """Gradient with respect to the layer's input: ``dx[n, i] = Σ_j w[i, j] dy[n, j]``.

    Parameters
    ----------
    dy : ndarray, shape (n, n_out)
        dE/dy, the gradient at the layer's outputs.
    w : ndarray, shape (n_in, n_out)
        The weights as they were in the forward pass.
    out : ndarray, shape (n, n_in), optional
        Buffer for the result; allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs.

    Returns
    -------
    dx : ndarray, shape (n, n_in)
    """
    dy, w, dx = _checks.dense_backward_input_args(dy, w, out, check_finite)
    _dense_backward_input(dy, w, dx)
    return dx


def dense_backward_params(x, dy, out=None, *, check_finite=True):
    """Parameter gradients summed over the batch.

    ``dw[i, j] = Σ_n x[n, i] dy[n, j]`` and ``db[j] = Σ_n dy[n, j]``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The layer's inputs in the forward pass.
    dy : ndarray, shape (n, n_out)
        dE/dy.
    out : tuple (dw, db), optional
        Buffers of shapes (n_in, n_out) and (n_out,); allocated if None.
    check_finite : bool, default True
        Reject NaN or infinite inputs.

    Returns
    -------
    dw : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    """
    x, dy, dw, db = _checks.dense_backward_params_args(x, dy, out, check_finite)
    _dense_backward_params(x, dy, dw, db)
    return dw, db


def dense_sgd_update(x, dy, w, b, lr, *, check_finite=True):
    """Fused gradient and SGD step, in place.

    ``w[i, j] -= lr · Σ_n x[n, i] dy[n, j]`` and ``b[j] -= lr · Σ_n dy[n, j]``,
    without storing the gradient.  Take the layer's input gradient (which needs the
    old weights) before calling this.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        The layer's inputs in the forward pass.
    dy : ndarray, shape (n, n_out)
        dE/dy.
    w : ndarray, shape (n_in, n_out)
        Weights, updated in place (C-contiguous, writeable).
    b : ndarray, shape (n_out,)
        Biases, updated in place.
    lr : float
        Learning rate α (finite).
    check_finite : bool, default True
        Reject NaN or infinite inputs before anything is written.

    Returns
    -------
    None
    """
    x, dy, w, b, lr = _checks.dense_sgd_update_args(x, dy, w, b, lr, check_finite)
    _dense_sgd_update(x, dy, w, b, lr)
