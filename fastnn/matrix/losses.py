"""Losses, matrix form: the same functions as :mod:`fastnn.loops.losses` as NumPy
whole-array expressions (see there for the formulas and parameters).
"""

import numpy as np

from .. import _checks, _docs

__all__ = ["mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy", "poisson"]


def _reduce(per_sample, reduction):
    # per-sample losses in the input precision, their total in float64, as in the loop form
    total = per_sample.sum(dtype=np.float64)
    return per_sample.dtype.type(total / per_sample.shape[0] if reduction == "mean" else total)


def mse(y, t, reduction="mean", out=None, *, check_finite=True):
    y, t, dy = _checks.regression_loss_args(y, t, reduction, out, check_finite)
    n, k = y.shape
    np.subtract(y, t, out=dy)
    per_sample = np.einsum("nk,nk->n", dy, dy) / y.dtype.type(k)
    dy *= y.dtype.type(2 / (k * (n if reduction == "mean" else 1)))
    return _reduce(per_sample, reduction), dy


def half_sse(y, t, out=None, *, check_finite=True):
    y, t, dy = _checks.regression_loss_args(y, t, "sum", out, check_finite)
    np.subtract(y, t, out=dy)
    per_sample = y.dtype.type(0.5) * np.einsum("nk,nk->n", dy, dy)
    return _reduce(per_sample, "sum"), dy


def softmax_cross_entropy(z, target, reduction="mean", out=None, *, check_finite=True):
    z, labels, t, dz = _checks.softmax_cross_entropy_args(z, target, reduction, out, check_finite)
    n = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.exp(log_p, out=dz)
    if labels is not None:
        rows = np.arange(n)
        per_sample = -log_p[rows, labels]
        dz[rows, labels] -= 1
    else:
        per_sample = -np.einsum("nk,nk->n", t, log_p)
        dz -= t
    if reduction == "mean":
        dz *= z.dtype.type(1 / n)
    return _reduce(per_sample, reduction), dz


def sigmoid_cross_entropy(z, t, reduction="mean", out=None, *, check_finite=True):
    z, t, dz = _checks.sigmoid_cross_entropy_args(z, t, reduction, out, check_finite)
    a = np.exp(-np.abs(z))
    per_sample = (np.maximum(z, 0) - z * t + np.log1p(a)).sum(axis=1)
    s = 1 / (1 + a)
    np.subtract(np.where(z >= 0, s, a * s), t, out=dz)
    if reduction == "mean":
        dz *= z.dtype.type(1 / z.shape[0])
    return _reduce(per_sample, reduction), dz


def poisson(z, t, reduction="mean", out=None, *, check_finite=True):
    z, t, dz = _checks.poisson_args(z, t, reduction, out, check_finite)
    mu = np.exp(z)
    t_log_t = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0)
    per_sample = (mu - t * z + t_log_t - t).sum(axis=1)
    np.subtract(mu, t, out=dz)
    if reduction == "mean":
        dz *= z.dtype.type(1 / z.shape[0])
    return _reduce(per_sample, reduction), dz


for _f in (mse, half_sse, softmax_cross_entropy, sigmoid_cross_entropy, poisson):
    _f.__doc__ = _docs.LOSSES[_f.__name__]
del _f
