"""Optimizers, matrix form: the updates of :mod:`fastnn.loops.optim` as whole-array
NumPy expressions (see there for the equations).
"""

import numpy as np

from .. import _checks, _docs
from .._checks import BETA1, BETA2, EPS, LR, MU
from .._codes import ADAM, MOMENTUM, NESTEROV, SGD

__all__ = ["sgd_update", "momentum_update", "adam_update"]


def _optimizer_step(code, p, g, m, s, hyper, step):
    """Update p (and m, s) in place if every updated value is finite; return whether it was."""
    # an overflow here is detected and refused below, so NumPy's warning is only noise
    with np.errstate(over="ignore", invalid="ignore"):
        return _checked_update(code, p, g, m, s, hyper, step)


def _checked_update(code, p, g, m, s, hyper, step):
    lr = p.dtype.type(hyper[LR])
    if code == SGD:
        new, state = p - lr * g, ()
    elif code in (MOMENTUM, NESTEROV):
        mu = p.dtype.type(hyper[MU])
        v = mu * m - lr * g
        new, state = p + (mu * v - lr * g if code == NESTEROV else v), ((m, v),)
    else:
        b1, b2 = hyper[BETA1], hyper[BETA2]
        lr_t = p.dtype.type(hyper[LR] * np.sqrt(1 - b2 ** step) / (1 - b1 ** step))
        beta1, beta2 = p.dtype.type(b1), p.dtype.type(b2)
        keep1, keep2 = p.dtype.type(1 - b1), p.dtype.type(1 - b2)
        m_new = beta1 * m + keep1 * g
        s_new = beta2 * s + keep2 * g * g
        new = p - lr_t * m_new / (np.sqrt(s_new) + p.dtype.type(hyper[EPS]))
        state = ((m, m_new), (s, s_new))
        if not np.isfinite(s_new).all():
            return False
    if not np.isfinite(new).all():
        return False
    for old, updated in state:
        old[...] = updated
    p[...] = new
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
