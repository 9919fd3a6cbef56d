"""Losses, loop form: each returns the loss and its gradient at the network output.

N samples, K outputs; every loss is a per-sample loss reduced over the batch
("mean" divides the batch total by N, "sum" does not):

mse                    E_n = (1/K) Σ_k (y[n,k] − t[n,k])²        dy = 2 (y − t) / K   (/ N for "mean")
half_sse               E   = ½ Σ_n Σ_k (y[n,k] − t[n,k])²         dy = y − t          (always a sum)
softmax_cross_entropy  E_n = −Σ_k t_k log p_k,  p = softmax(z)   dz = p − t           (/ N for "mean")
sigmoid_cross_entropy  E_n = Σ_k max(z,0) − z t + log(1 + e^−|z|)  dz = s(z) − t      (/ N for "mean")
poisson                E_n = Σ_k e^z − t z + t log t − t           dz = e^z − t          (/ N for "mean")

Per-sample losses are written to a buffer by row blocks (in parallel when large),
then summed serially in float64, so the total does not depend on the thread count.
"""

import numpy as np
from numba import prange, types

from .. import _checks, _docs
from .._codes import CROSS_ENTROPY, HALF_SSE, MSE, POISSON, SIGMOID_CROSS_ENTROPY
from .._config import PARALLEL, PARALLEL_MIN_ELEMENTS, ROW_BLOCK, SERIAL
from .._jit import jit, unit

__all__ = ["mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy", "poisson"]



@unit(returns=types.none, **SERIAL)
def _per_output_rows(code, y, t, scale, dy, per_sample, n0, n1):
    """The losses that sum a term per output (sigmoid cross-entropy, Poisson): a unit,
    compiled on its first call, so that the networks trained with another loss (every
    one before these existed) do not compile it."""
    k = y.shape[1]
    for n in range(n0, n1):
        e = y[n, 0] - y[n, 0]
        for c in range(k):
            z, tc = y[n, c], t[n, c]
            if code == SIGMOID_CROSS_ENTROPY:
                a = np.exp(-abs(z))  # never overflows; s(z) from it as in the sigmoid
                e += max(z, 0) - z * tc + np.log1p(a)
                s = 1 / (1 + a)
                dy[n, c] = scale * ((s if z >= 0 else a * s) - tc)
            else:
                mu = np.exp(z)
                e += mu - tc * z - tc
                if tc > 0:
                    e += tc * np.log(tc)
                dy[n, c] = scale * (mu - tc)
        per_sample[n] = e


@jit(**SERIAL)
def _loss_rows(code, y, t, labels, scale, dy, per_sample, n0, n1):
    if code == SIGMOID_CROSS_ENTROPY or code == POISSON:
        _per_output_rows(code, y, t, scale, dy, per_sample, n0, n1)
        return
    k = y.shape[1]
    for n in range(n0, n1):
        if code == CROSS_ENTROPY:
            m = y[n, 0]
            for c in range(1, k):
                m = max(m, y[n, c])
            s = y[n, 0] - y[n, 0]
            for c in range(k):
                dy[n, c] = np.exp(y[n, c] - m)
                s += dy[n, c]
            # log p_c = z_c − m − log Σ e^(z − m): never log of an underflowed p
            log_s = np.log(s)
            inv = 1 / s
            if labels.size > 0:
                per_sample[n] = m + log_s - y[n, labels[n]]
                for c in range(k):
                    dy[n, c] = scale * (dy[n, c] * inv)
                dy[n, labels[n]] -= scale
            else:
                e = s - s
                for c in range(k):
                    e += t[n, c] * (m + log_s - y[n, c])
                    dy[n, c] = scale * (dy[n, c] * inv - t[n, c])
                per_sample[n] = e
        else:
            e = y[n, 0] - y[n, 0]
            for c in range(k):
                d = y[n, c] - t[n, c]
                e += d * d
                dy[n, c] = scale * d
            per_sample[n] = e * (1 / k if code == MSE else 0.5)


@unit(returns=types.none, **PARALLEL)
def _loss_parallel(code, y, t, labels, scale, dy, per_sample):
    rows = y.shape[0]
    for blk in prange((rows + ROW_BLOCK - 1) // ROW_BLOCK):
        n0 = blk * ROW_BLOCK
        _loss_rows(code, y, t, labels, scale, dy, per_sample, n0, min(n0 + ROW_BLOCK, rows))


@jit(**SERIAL)
def _loss(code, y, t, labels, scale, dy, per_sample):
    """Fill ``dy`` and ``per_sample``; return the float64 sum of ``per_sample``.

    ``labels`` (intp, (n,)) is used by cross-entropy when non-empty, else ``t`` (n, K).
    ``scale`` multiplies the gradient: it carries the 2/K of MSE and the 1/N of "mean".
    """
    if y.size >= PARALLEL_MIN_ELEMENTS and y.shape[0] > ROW_BLOCK:
        _loss_parallel(code, y, t, labels, scale, dy, per_sample)
    else:
        _loss_rows(code, y, t, labels, scale, dy, per_sample, 0, y.shape[0])
    total = 0.0
    for n in range(per_sample.shape[0]):
        total += per_sample[n]
    return total


_NO_LABELS = np.empty(0, dtype=np.intp)


def _run(code, y, t, labels, reduction, dy):
    n, k = y.shape
    if t is None:
        t = np.empty((0, 0), dtype=y.dtype)
    mean = reduction == "mean"
    scale = (2.0 / k if code == MSE else 1.0) / (n if mean else 1)
    per_sample = np.empty(n, dtype=y.dtype)
    total = _loss(code, y, t, _NO_LABELS if labels is None else labels, y.dtype.type(scale), dy, per_sample)
    return y.dtype.type(total / n if mean else total), dy


def mse(y, t, reduction="mean", out=None, *, check_finite=True):
    y, t, dy = _checks.regression_loss_args(y, t, reduction, out, check_finite)
    return _run(MSE, y, t, None, reduction, dy)


def half_sse(y, t, out=None, *, check_finite=True):
    y, t, dy = _checks.regression_loss_args(y, t, "sum", out, check_finite)
    return _run(HALF_SSE, y, t, None, "sum", dy)


def softmax_cross_entropy(z, target, reduction="mean", out=None, *, check_finite=True):
    z, labels, t, dz = _checks.softmax_cross_entropy_args(z, target, reduction, out, check_finite)
    return _run(CROSS_ENTROPY, z, t, labels, reduction, dz)


def sigmoid_cross_entropy(z, t, reduction="mean", out=None, *, check_finite=True):
    z, t, dz = _checks.sigmoid_cross_entropy_args(z, t, reduction, out, check_finite)
    return _run(SIGMOID_CROSS_ENTROPY, z, t, None, reduction, dz)


def poisson(z, t, reduction="mean", out=None, *, check_finite=True):
    z, t, dz = _checks.poisson_args(z, t, reduction, out, check_finite)
    return _run(POISSON, z, t, None, reduction, dz)


# one docstring per function, shared with its matrix-form twin
for _f in (mse, half_sse, softmax_cross_entropy, sigmoid_cross_entropy, poisson):
    _f.__doc__ = _docs.LOSSES[_f.__name__]
del _f
