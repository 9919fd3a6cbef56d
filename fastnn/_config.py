"""The one place for Numba options.

Every jitted function in fastnn is compiled with :data:`SERIAL` or :data:`PARALLEL`
(``@jit(**SERIAL)``, ``@unit(**PARALLEL)``: :mod:`fastnn._jit`), so the numerical
contract is decided here once:

fastmath
    Only the flags that let LLVM reorder and fuse arithmetic: ``reassoc`` (vectorized
    sums), ``contract`` (fused multiply-add), ``nsz`` (sign of zero), ``arcp``
    (reciprocal instead of division), ``afn`` (faster exp/log/tanh).  Never ``nnan`` or
    ``ninf``: with them LLVM may assume no NaN or infinity exists and delete the very
    checks that catch a diverging training run.  Even without them, ``reassoc`` and
    ``nsz`` together let LLVM fold ``v - v`` to 0, which defeats ``np.isfinite`` (Numba
    tests ``isnan(v - v)``) inside kernels: finiteness is therefore tested on the
    exponent bits (:mod:`fastnn._finite`: ``all_finite`` for arrays, ``is_finite`` for
    scalars).
error_model
    ``"numpy"``: a division by zero yields inf/nan like NumPy instead of raising,
    which keeps the per-division check out of inner loops (it blocks vectorization).
cache
    On: see :mod:`fastnn._cache` for what a cached kernel is keyed to and where it
    is kept.  Set ``FASTNN_CACHE=0`` to turn it off.
boundscheck
    Off: the public wrappers validate every shape before a kernel runs.
threading layer
    Numba's default choice (TBB, then OpenMP, then its own workqueue).  fastnn does
    not depend on which one runs: parallel loops are race-free by ownership and every
    element is computed by one iteration in a fixed order, so results are bitwise
    identical for any thread count and any layer.  ``fastnn compare`` reports the
    layer in use.

The size thresholds below decide when a kernel opens a parallel region.  Starting
one costs a few microseconds, which a small layer does not repay; the rule depends
on the problem size only, never on the thread count, so the choice cannot change a
result.
"""

import os

FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

CACHE = os.environ.get("FASTNN_CACHE", "1") not in ("0", "false", "False", "no")

SERIAL = dict(
    nogil=True,
    fastmath=FASTMATH,
    error_model="numpy",
    boundscheck=False,
    cache=CACHE,
)
"""Options for kernels that run on one thread."""

PARALLEL = dict(SERIAL, parallel=True)
"""Options for kernels that split their work with ``prange``."""

PARALLEL_MIN_FLOPS = 1 << 20
"""A dense kernel opens a parallel region only above this many multiply-adds
(serial work several times what starting a region costs: docs/design-notes.md)."""

PARALLEL_MIN_ELEMENTS = 1 << 15
"""An elementwise or row-wise kernel opens a parallel region only above this many
elements."""

ROW_BLOCK = 8
"""Rows (samples, or weight rows) per parallel work item: a multiple of a cache line
of float64, and small enough that two threads always get work."""

ALIGNMENT = 64
"""Byte alignment of the buffers fastnn allocates: one cache line and one AVX-512
vector, which made the loop kernels faster than NumPy's 16 bytes (docs/design-notes.md)."""
