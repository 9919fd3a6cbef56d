"""Dense layer, matrix form: the reference the loop form is tested and measured against.

forward          Y  = X W + b
input gradient   dX = dY Wᵀ
weight gradient  dW = Xᵀ dY,   db = 1ᵀ dY
fused SGD update W ← W − lr · Xᵀ dY,   b ← b − lr · 1ᵀ dY

Same public names, signatures, validation and results as :mod:`fastnn.loops.dense`.
"""

import numpy as np

from .. import _checks

__all__ = ["dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update"]


def dense_forward(x, w, b, out=None, *, check_finite=True):
    """Forward pass of a dense layer, ``Y = X W + b``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
    w : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    out : ndarray, shape (n, n_out), optional
    check_finite : bool, default True

    Returns
    -------
    y : ndarray, shape (n, n_out)

    See Also
    --------
    fastnn.loops.dense_forward : the loop form, with the full description.
    """
    x, w, b, y = _checks.dense_forward_args(x, w, b, out, check_finite)
    np.matmul(x, w, out=y)
    y += b
    return y


def dense_backward_input(dy, w, out=None, *, check_finite=True):
    """Input gradient, ``dX = dY Wᵀ``.

    Parameters
    ----------
    dy : ndarray, shape (n, n_out)
    w : ndarray, shape (n_in, n_out)
    out : ndarray, shape (n, n_in), optional
    check_finite : bool, default True

    Returns
    -------
    dx : ndarray, shape (n, n_in)
    """
    dy, w, dx = _checks.dense_backward_input_args(dy, w, out, check_finite)
    np.matmul(dy, w.T, out=dx)
    return dx


def dense_backward_params(x, dy, out=None, *, check_finite=True):
    """Parameter gradients, ``dW = Xᵀ dY`` and ``db = 1ᵀ dY``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
    dy : ndarray, shape (n, n_out)
    out : tuple (dw, db), optional

    Returns
    -------
    dw : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    """
    x, dy, dw, db = _checks.dense_backward_params_args(x, dy, out, check_finite)
    np.matmul(x.T, dy, out=dw)
    np.sum(dy, axis=0, out=db)
    return dw, db


def dense_sgd_update(x, dy, w, b, lr, *, check_finite=True):
    """Fused SGD step in place, ``W ← W − lr Xᵀ dY`` and ``b ← b − lr 1ᵀ dY``.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
    dy : ndarray, shape (n, n_out)
    w : ndarray, shape (n_in, n_out), updated in place
    b : ndarray, shape (n_out,), updated in place
    lr : float

    Returns
    -------
    None
    """
    x, dy, w, b, lr = _checks.dense_sgd_update_args(x, dy, w, b, lr, check_finite)
    w -= lr * (x.T @ dy)
    b -= lr * dy.sum(axis=0)
