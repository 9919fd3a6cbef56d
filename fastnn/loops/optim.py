"""Optimizers, loop form: one elementwise update of a flat parameter buffer.

``p`` parameters, ``g`` gradients dE/dp (weight decay already added), α learning
rate, t the step number counted from 1:

sgd        p ← p − α g
momentum   v ← μ v − α g;   p ← p + v
nesterov   v ← μ v − α g;   p ← p + μ v − α g
adam       m ← β1 m + (1 − β1) g;   s ← β2 s + (1 − β2) g²
           α_t = α √(1 − β2^t) / (1 − β1^t);   p ← p − α_t m / (√s + ε)

The momentum and Adam forms are scikit-learn's (``sklearn.neural_network``), so the
estimators in :mod:`fastnn.sklearn` follow the same trajectories.  ``state`` holds the
optimizer's memory: ``m`` is the velocity ``v`` for momentum and the first moment
for Adam, ``s`` the second moment; both start at zero.
"""

import numpy as np
from numba import prange, types

from .. import _checks, _docs
from .._checks import BETA1, BETA2, EPS, LR, MU
from .._finite import is_finite
from .._codes import ADAM, MOMENTUM, NESTEROV, SGD
from .._config import PARALLEL, PARALLEL_MIN_ELEMENTS, SERIAL
from .._jit import jit, unit

__all__ = ["sgd_update", "momentum_update", "adam_update"]

BLOCK = 4096


@jit(**SERIAL)
def _update_block(code, p, g, m, s, hyper, step, k0, k1, commit):
    """Update elements k0..k1-1, or with ``commit=False`` only compute the update.

    Returns how many updated values (parameters, and Adam's second moment, which can
    overflow on its own) are not finite, so a caller can refuse a step before it
    writes anything (see :func:`fastnn._finite.is_finite` for why not ``np.isfinite``).
    """
    lr = p.dtype.type(hyper[LR])
    # views that start at k0: with `p[k]` for k in range(k0, k1) Numba's
    # negative-index wraparound keeps the loops scalar (docs/design-notes.md)
    # (m and s are empty where the optimizer has no such state: so are their views)
    p, g, m, s = p[k0:k1], g[k0:k1], m[k0:k1], s[k0:k1]
    bad = 0
    if code == SGD:
        for k in range(p.size):
            new = p[k] - lr * g[k]
            bad += not is_finite(new)
            if commit:
                p[k] = new
    elif code == MOMENTUM or code == NESTEROV:
        mu = p.dtype.type(hyper[MU])
        for k in range(p.size):
            v = mu * m[k] - lr * g[k]
            new = p[k] + (mu * v - lr * g[k] if code == NESTEROV else v)
            bad += not is_finite(new)
            if commit:
                m[k] = v
                p[k] = new
    else:
        b1, b2 = hyper[BETA1], hyper[BETA2]
        lr_t = p.dtype.type(hyper[LR] * np.sqrt(1 - b2 ** step) / (1 - b1 ** step))
        eps = p.dtype.type(hyper[EPS])
        # every factor in the parameters' dtype: `1 - beta1` with a float32 beta1
        # would be float64 in Numba, and the finiteness check must see the values
        # exactly as they will be stored
        beta1, beta2 = p.dtype.type(b1), p.dtype.type(b2)
        keep1, keep2 = p.dtype.type(1 - b1), p.dtype.type(1 - b2)
        for k in range(p.size):
            mk = beta1 * m[k] + keep1 * g[k]
            sk = beta2 * s[k] + keep2 * g[k] * g[k]
            new = p[k] - lr_t * mk / (np.sqrt(sk) + eps)
            bad += (not is_finite(new)) + (not is_finite(sk))
            if commit:
                m[k] = mk
                s[k] = sk
                p[k] = new
    return bad


@unit(returns=types.int64, **PARALLEL)
def _update_parallel(code, p, g, m, s, hyper, step, commit):
    size = p.size
    n_blocks = (size + BLOCK - 1) // BLOCK
    bad = np.empty(n_blocks, dtype=np.int64)
    for blk in prange(n_blocks):
        k0 = blk * BLOCK
        bad[blk] = _update_block(code, p, g, m, s, hyper, step, k0, min(k0 + BLOCK, size), commit)
    return bad.sum()


@jit(**SERIAL)
def _optimizer_step(code, p, g, m, s, hyper, step):
    """Apply one update of optimizer ``code`` to flat ``p`` in place, if it is finite.

    ``m``, ``s``: the optimizer's state, like ``p`` (ignored where unused);
    ``hyper``: the float64 vector (lr, momentum, beta1, beta2, eps); ``step`` >= 1.
    A first, read-only pass computes every updated value; only if all are finite
    (which also requires finite gradients) does the second pass write them.

    Returns
    -------
    bool
        Whether the update was applied.  When False, nothing was written.
    """
    if p.size >= PARALLEL_MIN_ELEMENTS:
        if _update_parallel(code, p, g, m, s, hyper, step, False) != 0:
            return False
        _update_parallel(code, p, g, m, s, hyper, step, True)
    else:
        if _update_block(code, p, g, m, s, hyper, step, 0, p.size, False) != 0:
            return False
        _update_block(code, p, g, m, s, hyper, step, 0, p.size, True)
    return True


def _apply(code, p, g, m, s, hyper, step):
    if not _optimizer_step(code, p, g, m, s, hyper, step):
        raise FloatingPointError("the update would make a parameter non-finite; nothing was changed")


def sgd_update(p, g, lr, *, check_finite=True):
    p, g, m, s = _checks.optimizer_args(p, g, (), check_finite)
    _apply(SGD, p, g, m, s, _checks.optimizer_hyper(p.dtype, lr), 1)


def momentum_update(p, g, velocity, lr, momentum=0.9, nesterov=False, *, check_finite=True):
    p, g, m, s = _checks.optimizer_args(p, g, (velocity,), check_finite)
    hyper = _checks.optimizer_hyper(p.dtype, lr, momentum=momentum)
    _apply(NESTEROV if nesterov else MOMENTUM, p, g, m, s, hyper, 1)


def adam_update(p, g, m, s, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, *, check_finite=True):
    p, g, m, s = _checks.optimizer_args(p, g, (m, s), check_finite)
    hyper = _checks.optimizer_hyper(p.dtype, lr, beta1=beta1, beta2=beta2, eps=eps)
    _apply(ADAM, p, g, m, s, hyper, _checks.step_number(step))


for _f in (sgd_update, momentum_update, adam_update):
    _f.__doc__ = _docs.OPTIMIZERS[_f.__name__]
del _f
