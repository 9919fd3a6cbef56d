"""Shared pieces of the fastnn asv suite: thread limits, size profiles, seeded data,
warm-up and an in-benchmark timer.

Thread policy
    The two forms never run at the same time: while the loop form is timed, NumPy's
    BLAS is idle, and while the matrix form is timed, Numba's threads are idle.  So
    each may use every core, but no more: BLAS is capped at the number of usable cores
    (environment variables set here before NumPy is imported, and threadpoolctl at
    run time when it is installed).  ``bench_threads.ThreadCounts`` records what was
    in effect.

Size profile
    ``FASTNN_BENCH_PROFILE`` = ``quick`` (tiny sizes: the whole suite runs in a few
    minutes, for CI and ``asv run --quick``), ``default``, or ``large``.  The profile
    changes the parameter values, so compare results only within one profile.

Data
    Every array is drawn from a generator seeded by its name and shape, in float64,
    then cast: the same inputs in every run, every process and both dtypes.  Arrays
    are cached per process; benchmarks must not write to them (in-place kernels work
    on copies).

Importing fastnn
    Benchmark modules import fastnn inside ``setup``, never at module level
    (:func:`forms`, :func:`network`).  asv's forkserver (``launch_method`` in
    asv.conf.json) imports the suite once and forks one process per benchmark.
    ``import fastnn`` itself starts no threads, but its first compile or parallel
    kernel starts Numba's threading layer, which GNU OpenMP (Numba's "omp" layer)
    cannot carry across a fork: a forked child would abort at its first parallel
    kernel.  Keeping fastnn out of the server process makes each child start its own.

Warm-up
    Numba compiles a kernel on its first call for each dtype, number of dimensions
    and layout.  :func:`warm_up` calls a function once on tiny arrays of the same
    kind, so ``setup()`` pays the compile (or cache load) and no timing includes it.
    ``bench_compile`` measures compile time on its own.
"""

import functools
import os
import zlib


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


CORES = _usable_cores()

# Before NumPy loads its BLAS: never more BLAS threads than cores (an existing lower
# setting is kept).
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    try:
        _current = int(os.environ.get(_var, CORES))
    except ValueError:
        _current = CORES
    os.environ[_var] = str(max(1, min(_current, CORES)))

import numpy as np  # noqa: E402  (after the thread variables)

try:
    from threadpoolctl import ThreadpoolController, threadpool_limits
except ImportError:  # optional: the environment variables above then do the job
    ThreadpoolController = threadpool_limits = None


def blas_threads():
    """Threads of NumPy's BLAS (the largest over the BLAS libraries loaded), or -1
    when threadpoolctl is not installed and no environment variable says."""
    if ThreadpoolController is None:
        return int(os.environ.get("OPENBLAS_NUM_THREADS", -1))
    infos = ThreadpoolController().select(user_api="blas").info()
    return max((info["num_threads"] for info in infos), default=-1)


if threadpool_limits is not None and blas_threads() > CORES:
    # kept for the life of the process (the limit holds until restored)
    _BLAS_LIMIT = threadpool_limits(limits=CORES, user_api="blas")


# -- profiles -------------------------------------------------------------------------

_DENSE = {
    "quick": [(4, 8, 8), (16, 32, 16)],
    "default": [(32, 64, 128), (128, 784, 256), (512, 1024, 1024), (1024, 2048, 2048)],
}
_DENSE["large"] = _DENSE["default"] + [(2048, 4096, 4096)]

# widths of the layers, "/b" batch size
_NETWORKS = {
    "default": ["3-1-2/b1", "64-128-10/b32", "784-256-128-10/b128", "1024-1024-1024-10/b512"],
}
_NETWORKS["quick"] = _NETWORKS["default"][:2]
_NETWORKS["large"] = _NETWORKS["default"]

_EPOCH_BATCHES = {"quick": 4, "default": 64, "large": 256}

PROFILE = os.environ.get("FASTNN_BENCH_PROFILE", "default")
if PROFILE not in _EPOCH_BATCHES:
    raise ValueError(f"FASTNN_BENCH_PROFILE must be quick, default or large, got {PROFILE!r}")

DENSE_SIZES = _DENSE[PROFILE]
"""Dense layer sizes (batch, n_in, n_out)."""

ROW_SHAPES = [(batch, n_out) for batch, _, n_out in DENSE_SIZES]
"""(n, k) shapes of the elementwise and row-wise kernels: the dense layers' outputs."""

NETWORKS = _NETWORKS[PROFILE]
"""Training shapes, e.g. ``"784-256-128-10/b128"``: see :func:`parse_network`."""

EPOCH_BATCHES = _EPOCH_BATCHES[PROFILE]
"""Batches in one benchmarked epoch."""

DTYPES = ["float32", "float64"]

KERNELS = [
    "dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update",
    "identity", "identity_backward", "relu", "relu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "softmax", "mse", "half_sse", "softmax_cross_entropy",
    "sigmoid_cross_entropy", "poisson",
]
"""The public kernels of both forms (``fastnn.loops.__all__``, checked by
``bench_compile``), listed here so that no module imports fastnn to name them."""

LR = 0.01
"""Learning rate of every training benchmark: small enough that repeating a step
on the same batch thousands of times stays finite."""


def parse_network(name):
    """``"784-256-128-10/b128"`` -> ``([784, 256, 128, 10], 128)``."""
    widths, batch = name.split("/b")
    return [int(w) for w in widths.split("-")], int(batch)


# -- seeded data ----------------------------------------------------------------------

def _seed(*key):
    return zlib.crc32(repr(key).encode())


@functools.lru_cache(maxsize=None)
def array(name, shape, dtype, scale=1.0):
    """A normal(0, scale) array of ``shape`` and ``dtype``, the same on every call and
    run (seeded by name and shape; float32 is the float64 draw rounded)."""
    rng = np.random.default_rng(_seed(name, shape))
    return (scale * rng.standard_normal(shape)).astype(dtype)


@functools.lru_cache(maxsize=None)
def labels(name, n, k):
    """``n`` seeded class labels in ``0..k-1`` (intp)."""
    rng = np.random.default_rng(_seed(name, n, k))
    return rng.integers(0, k, size=n).astype(np.intp)


@functools.lru_cache(maxsize=None)
def classification(n, n_in, k, dtype):
    """A seeded, learnable classification set: inputs (n, n_in) and labels (n,) given
    by a fixed random linear teacher, so a training run's loss really goes down."""
    x = array("inputs", (n, n_in), dtype)
    return x, np.argmax(x @ array("teacher", (n_in, k), dtype), axis=1).astype(np.intp)


def batch(name):
    """The seeded float32 batch (x, class labels) of the training shape ``name``."""
    widths, n = parse_network(name)
    return array("x", (n, widths[0]), "float32"), labels("t", n, widths[-1])


def forms():
    """``{"loops": fastnn.loops, "matrix": fastnn.matrix}`` (imports fastnn: call it in
    ``setup``)."""
    import fastnn

    return {"loops": fastnn.loops, "matrix": fastnn.matrix}


def network(name, form, dtype="float32", seed=0):
    """A ``fastnn.Network`` of the training shape ``name``: Dense layers with ReLU
    between them, softmax cross-entropy, seeded weights (the same in both forms)."""
    import fastnn

    widths, _ = parse_network(name)
    return fastnn.Network(fastnn.dense_stack(widths, fastnn.ReLU), loss="softmax_cross_entropy", form=form,
                          dtype=dtype, seed=seed)


# -- warm-up --------------------------------------------------------------------------

TINY = 2


def _shrink(value):
    if isinstance(value, tuple):
        return tuple(_shrink(v) for v in value)
    if not isinstance(value, np.ndarray):
        return value
    small = np.ascontiguousarray(value[tuple(slice(0, TINY) for _ in value.shape)])
    # labels must stay in range for the tiny width
    return small if small.dtype.kind == "f" else np.zeros_like(small)


def warm_up(fn, *args, **kwargs):
    """Call ``fn`` once on tiny copies of its array arguments (first ``TINY`` entries
    of every axis, same dtype, C order; integer arrays become zeros).

    All sizes used here are at least ``TINY`` along every axis, so the tiny shapes fit
    together; the real arrays are never touched.  Numba compiles per dtype, number of
    dimensions and layout, never per size, and it compiles a kernel's parallel
    branch with its serial one, so this one call leaves nothing to compile later.
    """
    return fn(*[_shrink(a) for a in args], **{k: _shrink(v) for k, v in kwargs.items()})


def warm_up_network(net):
    """Compile the training step and epoch of ``net``'s form and dtype on a tiny
    network of the same layer kinds, loss and dtype."""
    import fastnn

    kinds = [type(layer) for layer in net.layers]
    layers = [fastnn.Dense(TINY, TINY) if kind is fastnn.Dense else kind() for kind in kinds]
    tiny = fastnn.Network(layers, loss=net.loss_name, form=net.form, dtype=net.dtype, seed=0)
    x = np.zeros((TINY, TINY), dtype=net.dtype)
    t = np.zeros(TINY, dtype=np.intp)
    tiny.train_step(x, t, lr=LR)
    fastnn.Trainer(tiny, x, t, batch_size=1, lr=LR, seed=0).epoch()
    tiny.loss(x, t)


# -- measuring inside a benchmark ---------------------------------------------------------

def median_seconds(fn, repeats=5, min_seconds=1e-3):
    """Median wall time of one ``fn()`` call over ``repeats`` samples, each lasting
    about ``min_seconds`` (the timer's resolution): :func:`fastnn.compare.measure`."""
    from fastnn.compare import measure

    return measure(fn, repeats, repeats * min_seconds)[0]
