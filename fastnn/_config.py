"""The one place for Numba options.

Every jitted function in fastnn is compiled with :data:`SERIAL` or :data:`PARALLEL`
(``@njit(**SERIAL)``), so the numerical contract is decided here once:

fastmath
    Only the flags that let LLVM reorder and fuse arithmetic: ``reassoc`` (vectorized
    sums), ``contract`` (fused multiply-add), ``nsz`` (sign of zero), ``arcp``
    (reciprocal instead of division), ``afn`` (faster exp/log/tanh).  Never ``nnan`` or
    ``ninf``: with them LLVM may assume no NaN or infinity exists and delete the very
    checks that catch a diverging training run.  Even without them, ``reassoc`` and
    ``nsz`` together let LLVM fold ``v - v`` to 0, which defeats ``np.isfinite`` (Numba
    tests ``isnan(v - v)``) inside kernels: finiteness is therefore tested on the
    exponent bits (``fastnn._checks._all_finite`` for arrays, ``_is_finite`` for
    scalars).
error_model
    ``"numpy"``: a division by zero yields inf/nan like NumPy instead of raising,
    which keeps the per-division check out of inner loops (it blocks vectorization).
cache
    On.  Compiled machine code is written next to the modules (or, when that folder
    is read-only, to Numba's per-user cache folder), so a second process loads it
    instead of compiling again.  Set ``FASTNN_CACHE=0`` to turn it off.  Numba keys
    each cached function to its own source file only, so a cached caller would keep
    a kernel from another file as it was, and crash if that kernel's signature
    changed (seen here: a segfault).  :func:`_drop_stale_caches` therefore keys the
    whole package's caches to one stamp of all its sources.
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

import glob
import hashlib
import os
import sys

import numba
from numba.core import event
from numba.core.caching import NullCache
from numba.core.registry import CPUDispatcher as Dispatcher

_ROOT = os.path.dirname(os.path.abspath(__file__))


def _drop_stale_caches(root):
    """Delete the cached machine code under ``root`` when any source file there changed.

    Numba checks a cached function against its own file's time stamp only; kernels
    it inlined from other modules are not checked.  One stamp over every source
    file of the package (paths, sizes, modification times), kept beside the caches,
    makes an edit anywhere (a checkout of another commit, a kernel being developed)
    recompile everything.  An installed copy changes only by reinstalling, which
    rewrites every file; a read-only install is left alone.
    """
    sources = sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))
    digest = hashlib.sha1()
    for path in sources:
        info = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}:{info.st_size}:{info.st_mtime_ns};".encode())
    stamp = digest.hexdigest()
    marker = os.path.join(root, "__pycache__", "fastnn-numba-cache.stamp")
    try:
        with open(marker) as fh:
            if fh.read() == stamp:
                return
    except OSError:
        pass
    _drop_caches(root)
    try:
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "w") as fh:
            fh.write(stamp)
    except OSError:  # a read-only install
        pass


def _remove(paths):
    for path in paths:
        try:
            os.remove(path)
        except OSError:  # read-only, or another process removed it first
            pass


def _drop_caches(root):
    """Delete the Numba cache files (index and data) under ``root``."""
    _remove(glob.glob(os.path.join(root, "**", "__pycache__", "*.nb[ic]"), recursive=True))


def _fastnn_dispatchers():
    """fastnn's jitted functions, in the modules imported so far."""
    for name, module in list(sys.modules.items()):
        if name == "fastnn" or name.startswith("fastnn."):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    yield value


def _fastnn_loaded_from_cache():
    """Whether any of fastnn's jitted functions was loaded from the disk cache here."""
    return any(any(d.stats.cache_hits.values()) for d in _fastnn_dispatchers())


def _drop_all_caches():
    """Delete fastnn's cache files: in the package, and wherever Numba keeps them for
    these functions instead (``NUMBA_CACHE_DIR``, or the per-user folder that a
    read-only install uses)."""
    _drop_caches(_ROOT)
    for folder in {getattr(d._cache, "cache_path", None) for d in _fastnn_dispatchers()} - {None}:
        _remove(glob.glob(os.path.join(folder, "*.nb[ic]")))


class _CompileGuard(event.Listener):
    """Keeps every compile of a fastnn function safe for this process and the next.

    Start: Numba's threading layer.  Compiling a function that links a parallel
    kernel loaded from the cache, before the layer has started, aborted a process
    here once ("LLVM ERROR: Symbol not found: allocate_sched", Numba 0.68.1).  The
    layer is not started at import, since fork() after ``import fastnn`` would then
    be fatal with GNU OpenMP.

    End (before Numba saves the result): a function compiled while some of fastnn's
    functions came from the cache calls those by a symbol that only this process
    defines.  Saved, it would call address 0 in a process that loads it first: a
    segfault, reproduced here (process 1 ``train_step``, process 2 ``fit`` on a tiny
    network, process 3 ``fit`` on a larger one).  Such a result is kept in memory
    only, and fastnn's cache files are dropped, so the next process compiles
    everything afresh and caches it whole.
    """

    def on_start(self, event):
        numba.get_num_threads()

    def on_end(self, event):
        dispatcher = (event.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not (module == "fastnn" or module.startswith("fastnn.")):
            return
        if _fastnn_loaded_from_cache():
            dispatcher._cache = NullCache()
            _drop_all_caches()


event.register("numba:compile", _CompileGuard())

FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

CACHE = os.environ.get("FASTNN_CACHE", "1") not in ("0", "false", "False", "no")
if CACHE:
    _drop_stale_caches(_ROOT)

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
(about 10 microseconds of serial work at the speed measured here)."""

PARALLEL_MIN_ELEMENTS = 1 << 15
"""An elementwise or row-wise kernel opens a parallel region only above this many
elements."""

ROW_BLOCK = 8
"""Rows (samples, or weight rows) per parallel work item: a multiple of a cache line
of float64, and small enough that two threads always get work."""

ALIGNMENT = 64
"""Byte alignment of the buffers fastnn allocates: one cache line and one AVX-512
vector, which measured up to 1.5x faster loop kernels on this project's machine."""
