"""Finiteness tests that fastmath cannot fold away, for arrays and for scalars
inside kernels.

A float is NaN or infinite exactly when all its exponent bits are set, so both
tests read the bits as integers.  The float tests are not sound under fastnn's
fastmath flags (:mod:`fastnn._config`): Numba's ``np.isfinite`` tests
``isnan(v - v)``, and with ``reassoc`` and ``nsz`` LLVM may fold ``v - v`` to 0.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._config import SERIAL
from ._jit import jit


@jit(**SERIAL)
def _no_special_exponent(bits, exponent):
    # count the elements whose exponent bits are all set; integer operations are
    # exact and associative, so this vectorizes and no fastmath flag can change it
    bad = 0
    for k in range(bits.size):
        bad += (bits[k] & exponent) == exponent
    return bad == 0


@jit(**SERIAL)
def _all_finite32(flat):
    return _no_special_exponent(flat.view(np.uint32), np.uint32(0x7F800000))


@jit(**SERIAL)
def _all_finite64(flat):
    return _no_special_exponent(flat.view(np.uint64), np.uint64(0x7FF0000000000000))


def all_finite(flat):
    """True unless the contiguous 1-D float array ``flat`` holds NaN or +-inf.

    A float is NaN or infinite exactly when all its exponent bits are set, so the
    test reads the bit patterns as integers.  (The float test ``Σ (x − x) == 0``
    missed every non-finite value but the first.)  One kernel per dtype: a kernel
    that branched on the item size would compile both views.
    """
    return (_all_finite32 if flat.itemsize == 4 else _all_finite64)(flat)


@intrinsic
def is_finite(typingctx, value):
    """True unless the float scalar ``value`` is NaN or +-inf (usable in jitted code).

    Inside kernels compiled with ``reassoc`` and ``nsz``, ``np.isfinite(expr)`` is
    not reliable: Numba tests ``isnan(v - v)``, and LLVM may fold ``v - v`` to 0 when
    ``v`` is an expression.  This reads the exponent bits instead (all set means NaN
    or infinity), through a bitcast that float rewrites cannot see through.
    """
    if not isinstance(value, types.Float):
        return None
    width = value.bitwidth
    exponent = ((1 << (11 if width == 64 else 8)) - 1) << (52 if width == 64 else 23)

    def codegen(context, builder, signature, args):
        int_type = ir.IntType(width)
        bits = builder.bitcast(args[0], int_type)
        mask = ir.Constant(int_type, exponent)
        return builder.icmp_unsigned("!=", builder.and_(bits, mask), mask)

    return types.boolean(value), codegen
