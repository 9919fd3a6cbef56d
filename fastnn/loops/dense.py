"""Dense layer, loop form: the per-neuron sums of FORMULAS.md as Numba loops.

forward          y[n, j]  = Σ_i x[n, i] · w[i, j] + b[j]
input gradient   dx[n, i] = Σ_j w[i, j] · dy[n, j]
weight gradient  dw[i, j] = Σ_n x[n, i] · dy[n, j],   db[j] = Σ_n dy[n, j]
fused SGD update w[i, j] ← w[i, j] − lr · Σ_n x[n, i] · dy[n, j],   b[j] ← b[j] − lr · Σ_n dy[n, j]

How the work is split (race-free by ownership): forward and input gradient give each
parallel iteration a block of samples n and it writes only those rows of y or dx;
weight gradient and update give each iteration a block of input rows i and it writes
only those rows of dw or w.  No two iterations write one element, and every element
is summed in the same order whichever thread computes it, so the result is bitwise
the same for any thread count.  The serial path (small problems) calls the very same
block function over the whole range.
"""

import numpy as np
from numba import njit, prange

from .. import _checks
from .._config import PARALLEL, PARALLEL_MIN_FLOPS, ROW_BLOCK, SERIAL

__all__ = ["dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update"]


@njit(**SERIAL)
def _n_blocks(rows):
    return (rows + ROW_BLOCK - 1) // ROW_BLOCK


@njit(**SERIAL)
def _forward_rows(x, w, b, y, n0, n1):
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


@njit(**PARALLEL)
def _forward_parallel(x, w, b, y):
    rows = x.shape[0]
    for blk in prange(_n_blocks(rows)):
        n0 = blk * ROW_BLOCK
        _forward_rows(x, w, b, y, n0, min(n0 + ROW_BLOCK, rows))


@njit(**SERIAL)
def _dense_forward(x, w, b, y):
    if x.shape[0] * w.size >= PARALLEL_MIN_FLOPS and x.shape[0] > ROW_BLOCK:
        _forward_parallel(x, w, b, y)
    else:
        _forward_rows(x, w, b, y, 0, x.shape[0])


@njit(**SERIAL)
def _backward_input_rows(dy, w, dx, n0, n1):
    n_in, n_out = w.shape
    for n in range(n0, n1):
        for i in range(n_in):
            # the sum over j reads a row of w and a row of dy: contiguous, and
            # `reassoc` lets LLVM split it into vector lanes
            s = dy[n, 0] * w[i, 0]
            for j in range(1, n_out):
                s += w[i, j] * dy[n, j]
            dx[n, i] = s


@njit(**PARALLEL)
def _backward_input_parallel(dy, w, dx):
    rows = dy.shape[0]
    for blk in prange(_n_blocks(rows)):
        n0 = blk * ROW_BLOCK
        _backward_input_rows(dy, w, dx, n0, min(n0 + ROW_BLOCK, rows))


@njit(**SERIAL)
def _dense_backward_input(dy, w, dx):
    if dy.shape[0] * w.size >= PARALLEL_MIN_FLOPS and dy.shape[0] > ROW_BLOCK:
        _backward_input_parallel(dy, w, dx)
    else:
        _backward_input_rows(dy, w, dx, 0, dy.shape[0])


@njit(**SERIAL)
def _weight_gradient_rows(x, dy, dw, i0, i1):
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


@njit(**SERIAL)
def _bias_gradient(dy, db):
    for j in range(dy.shape[1]):
        db[j] = 0
    for n in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            db[j] += dy[n, j]


@njit(**PARALLEL)
def _weight_gradient_parallel(x, dy, dw):
    rows = x.shape[1]
    for blk in prange(_n_blocks(rows)):
        i0 = blk * ROW_BLOCK
        _weight_gradient_rows(x, dy, dw, i0, min(i0 + ROW_BLOCK, rows))


@njit(**SERIAL)
def _weight_gradient(x, dy, dw):
    if x.shape[0] * dw.size >= PARALLEL_MIN_FLOPS and x.shape[1] > ROW_BLOCK:
        _weight_gradient_parallel(x, dy, dw)
    else:
        _weight_gradient_rows(x, dy, dw, 0, x.shape[1])


@njit(**SERIAL)
def _dense_backward_params(x, dy, dw, db):
    _weight_gradient(x, dy, dw)
    _bias_gradient(dy, db)


@njit(**SERIAL)
def _sgd_update_rows(x, dy, w, lr, i0, i1):
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


@njit(**PARALLEL)
def _sgd_update_parallel(x, dy, w, lr):
    rows = x.shape[1]
    for blk in prange(_n_blocks(rows)):
        i0 = blk * ROW_BLOCK
        _sgd_update_rows(x, dy, w, lr, i0, min(i0 + ROW_BLOCK, rows))


@njit(**SERIAL)
def _dense_sgd_update(x, dy, w, b, lr):
    if x.shape[0] * w.size >= PARALLEL_MIN_FLOPS and x.shape[1] > ROW_BLOCK:
        _sgd_update_parallel(x, dy, w, lr)
    else:
        _sgd_update_rows(x, dy, w, lr, 0, x.shape[1])
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
