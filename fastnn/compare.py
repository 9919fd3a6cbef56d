"""The loop-vs-matrix report behind ``fastnn compare``.

For every kernel that exists in both forms, and for a whole training step, this
times :mod:`fastnn.loops` against :mod:`fastnn.matrix` in one process, on the same
seeded inputs, and checks that the two forms agree.

What is timed is the public function exactly as a user calls it, with its defaults:
argument validation (shapes, dtypes, the NaN/Inf check) and output allocation
included.  Each measurement starts with a warm-up call, so Numba's compile time
(or its cache load) is excluded, then takes ``repeat`` samples of ``number``
back-to-back calls, ``number`` chosen so that one measurement lasts about
``target`` seconds; the reported time is the median over the samples of the time
per call.

Sizes are triples ``(n, n_in, n_out)``: the batch size and a dense layer's widths.
Elementwise and row-wise kernels run on an ``(n, n_out)`` array; the training step
uses the network ``n_in -> n_out -> n_out -> 10`` (ReLU, softmax cross-entropy).

Example
-------
>>> from fastnn import compare
>>> report = compare.run(sizes=[(32, 64, 128)], dtypes=["float32"], kernels=["relu"])
>>> print(compare.format_table(report))  # doctest: +SKIP

Functions: :func:`run` measures, :func:`environment` describes the machine,
:func:`format_table` and :func:`plot` present.
"""

import os
import platform
import statistics
import time

import numpy as np

from . import _machine, loops, matrix
from .layers import ReLU, dense_stack
from .network import Network

__all__ = ["KERNELS", "DENSE_KERNELS", "SIZES", "QUICK", "environment", "measure", "run",
           "format_seconds", "format_header", "format_columns", "format_row", "format_table", "plot"]

DENSE_KERNELS = ("dense_forward", "dense_backward_input", "dense_backward_params", "dense_sgd_update")
ELEMENTWISE_KERNELS = ("relu", "relu_backward", "sigmoid", "tanh", "softmax", "mse",
                       "softmax_cross_entropy")
KERNELS = DENSE_KERNELS + ELEMENTWISE_KERNELS + ("train_step",)
"""Every kernel the report knows, in table order."""

SIZES = {
    "small": [(1, 3, 2), (32, 64, 128)],
    "default": [(1, 3, 2), (32, 64, 128), (128, 784, 256), (512, 1024, 1024)],
    "large": [(1, 3, 2), (32, 64, 128), (128, 784, 256), (512, 1024, 1024), (1024, 2048, 2048)],
}
"""Named size lists, ``(n, n_in, n_out)`` triples."""

QUICK = dict(sizes=[(1, 3, 2), (16, 32, 16)], dtypes=["float64"], repeat=3, target=0.01)
"""Settings of ``--quick``: tiny sizes, one dtype, few and short samples (for tests)."""

TRAIN_CLASSES = 10
_FORMS = {"loops": loops, "matrix": matrix}
_LR = 1e-3  # small, so that thousands of repeated in-place updates stay finite


# -- the cases: inputs and calls of each kernel -------------------------------------------


def _case(kernel, size, dtype, seed=0):
    """Inputs and the call of ``kernel`` at ``size``.

    Returns
    -------
    make : callable
        ``make(form)`` -> fresh arguments for ``form`` ("loops" or "matrix"), the same
        values on every call.
    call : callable
        ``call(form, args)`` -> the result(s) to compare between the forms.
    flops : int or None
        Floating-point operations of one call (dense kernels: 2 n n_in n_out).
    """
    n, n_in, n_out = size
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=1.0):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    product = 2 * n * n_in * n_out
    if kernel in DENSE_KERNELS:
        x, dy = normal(n, n_in), normal(n, n_out)
        w, b = normal(n_in, n_out, scale=1 / np.sqrt(n_in)), normal(n_out)
        arrays = {
            "dense_forward": (x, w, b),
            "dense_backward_input": (dy, w),
            "dense_backward_params": (x, dy),
            "dense_sgd_update": (x, dy, w, b, _LR),
        }[kernel]

        def call(form, args):
            result = getattr(_FORMS[form], kernel)(*args)
            return (args[2], args[3]) if kernel == "dense_sgd_update" else result

        return _maker(arrays), call, product

    if kernel == "train_step":
        x, labels = normal(n, n_in), rng.integers(0, TRAIN_CLASSES, n)

        def make(form):
            return [_train_net(size, dtype, form), x, labels]

        def call(form, args):
            net = args[0]
            return np.float64(net.train_step(args[1], args[2], lr=_LR)), net.params

        widths = _train_widths(size)
        flops = sum(6 * n * a * c for a, c in zip(widths[:-1], widths[1:]))  # 3 products per layer
        return make, call, flops

    if kernel not in ELEMENTWISE_KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")
    z = normal(n, n_out, scale=2.0)
    arrays = {
        "relu_backward": (z, normal(n, n_out)),
        "mse": (z, normal(n, n_out)),
        "softmax_cross_entropy": (z, rng.integers(0, n_out, n)),
    }.get(kernel, (z,))
    return _maker(arrays), lambda form, args: getattr(_FORMS[form], kernel)(*args), None


def _maker(arrays):
    return lambda form: [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]


def _train_widths(size):
    _, n_in, n_out = size
    return [n_in, n_out, n_out, TRAIN_CLASSES]


def _train_net(size, dtype, form):
    return Network(dense_stack(_train_widths(size), ReLU), loss="softmax_cross_entropy", form=form, dtype=dtype,
                   seed=0)


def _max_abs_diff(a, b):
    if isinstance(a, tuple):
        return max(_max_abs_diff(p, q) for p, q in zip(a, b))
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# -- timing ---------------------------------------------------------------------------------


BLAS_IDLE_SECONDS = 0.3
"""Pause before timing the loop form, so that NumPy's BLAS threads are asleep."""


def measure(fn, repeat=5, target=0.2, number=None):
    """Median seconds per call of ``fn()``, compile time excluded: the one timer of
    fastnn and its benchmarks.

    One warm-up call, one timed call to estimate the cost, then ``repeat`` samples
    of ``number`` calls each; unless given, ``number`` is chosen so that all samples
    together take about ``target`` seconds (at least one call per sample).

    Returns
    -------
    seconds : float
        Median over the samples of the mean time per call.
    number : int
        Calls per sample.
    """
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-9)
    if number is None:
        number = max(1, int(target / repeat / once))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples), number


def _row(kernel, size, dtype, repeat, target):
    make, call, flops = _case(kernel, size, np.dtype(dtype))
    # agreement: one call of each form on its own fresh copy of the same inputs
    results = {form: call(form, make(form)) for form in _FORMS}
    row = {"kernel": kernel, "dtype": np.dtype(dtype).name, "size": list(size)}
    for name in _FORMS:
        args = make(name)
        if name == "loops":
            # OpenBLAS's threads spin for about 0.1 s after a call (their default
            # timeout, 2^28 cycles) and would take the cores from Numba's threads,
            # slowing the loop kernels timed right after a matrix call
            # (docs/design-notes.md).  Let them fall asleep first.
            time.sleep(BLAS_IDLE_SECONDS)
        seconds, number = measure(lambda: call(name, args), repeat, target)  # noqa: B023 (called at once)
        row[f"{name}_s"] = seconds
        row[f"{name}_calls"] = number
    row["speedup"] = row["matrix_s"] / row["loops_s"]
    row["max_abs_diff"] = _max_abs_diff(results["loops"], results["matrix"])
    row["flops"] = flops
    dense = kernel in DENSE_KERNELS
    row["gflops_loops"] = flops / row["loops_s"] / 1e9 if dense else None
    row["gflops_matrix"] = flops / row["matrix_s"] / 1e9 if dense else None
    return row


def run(sizes=None, dtypes=("float32", "float64"), kernels=KERNELS, repeat=5, target=0.2,
        progress=None, env=None):
    """Time and compare both forms of each kernel.

    Parameters
    ----------
    sizes : list of (n, n_in, n_out), default ``SIZES["default"]``
    dtypes : sequence of {"float32", "float64"}
    kernels : sequence of str
        Names from :data:`KERNELS`.
    repeat : int, default 5
        Timed samples per measurement (the median is reported).
    target : float, default 0.2
        Seconds one measurement (all its samples) should take.
    progress : callable, optional
        Called with each finished row (a dict), e.g. to print it at once.
    env : dict, optional
        :func:`environment`, if the caller has it already.

    Returns
    -------
    dict
        ``{"environment": environment(), "settings": {...}, "rows": [...]}``; each row
        has kernel, dtype, size, loops_s, matrix_s, speedup (matrix_s / loops_s: above
        1 the loops are faster), max_abs_diff, gflops_loops, gflops_matrix (None
        except for dense kernels), flops, loops_calls, matrix_calls.
    """
    sizes = [tuple(int(v) for v in s) for s in (SIZES["default"] if sizes is None else sizes)]
    for s in sizes:
        if len(s) != 3 or min(s) < 1:
            raise ValueError(f"a size is three positive integers (n, n_in, n_out), got {s}")
    unknown = [k for k in kernels if k not in KERNELS]
    if unknown:
        raise ValueError(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(KERNELS)}")
    if int(repeat) < 1 or not target > 0:
        raise ValueError("repeat must be >= 1 and target > 0")
    if env is None:
        env = environment()
    rows = []
    for kernel in [k for k in KERNELS if k in kernels]:
        for dtype in dtypes:
            for size in sizes:
                rows.append(_row(kernel, size, dtype, int(repeat), float(target)))
                if progress is not None:
                    progress(rows[-1])
    settings = {"sizes": [list(s) for s in sizes], "dtypes": [np.dtype(d).name for d in dtypes],
                "kernels": [k for k in KERNELS if k in kernels], "repeat": int(repeat),
                "target_s": float(target), "check_finite": True}
    return {"environment": env, "settings": settings, "rows": rows}


# -- environment -----------------------------------------------------------------------------


def _threading_layer():
    import numba

    # Numba picks the layer when the first parallel region starts: run one (128^3
    # multiply-adds are above _config.PARALLEL_MIN_FLOPS)
    x = np.ones((128, 128))
    loops.dense_forward(x, x, np.zeros(128))
    try:
        return numba.threading_layer()
    except ValueError:
        return "unknown (no parallel region ran)"


def _blas():
    """Name and version of the BLAS NumPy was built with, from np.show_config."""
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', 'unknown')} {info.get('version', '')}".strip()
    except Exception:  # older NumPy, or a build without this section
        return "unknown"


def _blas_runtime():
    """What the loaded BLAS says about itself (architecture, threads), if threadpoolctl
    is installed; None otherwise."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            parts = [lib.get("internal_api", "?")]
            if lib.get("architecture"):
                parts.append(f"architecture {lib['architecture']}")
            parts.append(f"{lib.get('num_threads', '?')} threads")
            return ", ".join(parts)
    return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "FASTNN_CACHE")


def environment():
    """Versions, threads, threading layer, BLAS and CPU of this process (a dict)."""
    import numba

    from . import __version__

    return {
        "fastnn": __version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "numba_threads": numba.get_num_threads(),
        "threading_layer": _threading_layer(),
        "blas": _blas(),
        "blas_runtime": _blas_runtime(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "kernels_for": _machine.summary(),
        "env": {k: os.environ[k] for k in _ENV_VARS if k in os.environ},
    }


# -- output ------------------------------------------------------------------------------------


def format_seconds(s):
    """``0.0123`` -> ``"12.3 ms"``."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def format_header(environment, settings):
    """The report's first lines: what was measured, how, and on what."""
    env = environment
    runtime = f" [{env['blas_runtime']}]" if env["blas_runtime"] else ""
    return "\n".join([
        f"fastnn {env['fastnn']} compare: loop form vs matrix form",
        f"numpy {env['numpy']}, numba {env['numba']}, python {env['python']}",
        f"numba threads: {env['numba_threads']} (threading layer: {env['threading_layer']})",
        f"BLAS (numpy): {env['blas']}{runtime}",
        f"OPENBLAS_CORETYPE: {env['openblas_coretype'] or '(not set)'}",
        f"CPU: {env['cpu']} ({env['cpu_count']} logical cores)",
        f"loop kernels compiled for: {env['kernels_for']}",
        "timed: the public functions as users call them (defaults, check_finite=True: "
        "validation and allocation included); warm-up call first (compile excluded), "
        f"then the median of {settings['repeat']} samples (~{settings['target_s']:g} s per measurement); "
        f"the loop form is timed after {BLAS_IDLE_SECONDS:g} s idle, once NumPy's BLAS threads sleep",
        "size = (batch n, n_in, n_out); elementwise kernels run on n x n_out; train_step is "
        f"Network.train_step on n_in-n_out-n_out-{TRAIN_CLASSES} (ReLU, softmax cross-entropy, sgd)",
        "speed-up = matrix time / loops time (above 1: the loops are faster); "
        "GFLOP/s counts 2*n*n_in*n_out per dense product",
    ])


# (title, width, left-aligned): fixed widths, so rows can be printed as they come
_COLUMNS = (("kernel", 21, True), ("dtype", 7, True), ("size", 14, True), ("loops", 9, False),
            ("matrix", 9, False), ("speed-up", 8, False), ("max|diff|", 9, False),
            ("GF/s loops", 10, False), ("GF/s matrix", 11, False))


def _line(cells):
    return "  ".join(c.ljust(w) if left else c.rjust(w)
                     for c, (_, w, left) in zip(cells, _COLUMNS)).rstrip()


def format_columns():
    """The table's title line and rule."""
    title = _line([c[0] for c in _COLUMNS])
    return title + "\n" + "-" * len(title)


def format_row(row):
    """One row of the table (a line of text)."""
    def gf(v):
        return "" if v is None else f"{v:.3g}"

    return _line([row["kernel"], row["dtype"], "x".join(map(str, row["size"])), format_seconds(row["loops_s"]),
                  format_seconds(row["matrix_s"]), f"{row['speedup']:.3g}x", f"{row['max_abs_diff']:.2g}",
                  gf(row["gflops_loops"]), gf(row["gflops_matrix"])])


def format_table(report):
    """The whole report as text: header, column titles, one line per row."""
    return "\n".join([format_header(report["environment"], report["settings"]), "", format_columns()]
                     + [format_row(r) for r in report["rows"]])


def plot(report, path):
    """Save a figure of speed-up against size (dense flops 2 n n_in n_out, log x): one line
    per kernel (solid float32, dashed float64) and a horizontal line at 1, where the
    faster form changes.  Needs matplotlib."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.add_subplot()
    styles = {"float32": "-", "float64": "--"}
    palette = colormaps["tab20"]
    for k, kernel in enumerate(report["settings"]["kernels"]):
        for dtype in report["settings"]["dtypes"]:
            rows = [r for r in report["rows"] if r["kernel"] == kernel and r["dtype"] == dtype]
            if not rows:
                continue
            rows.sort(key=lambda r: np.prod(r["size"]))
            xs = [2 * int(np.prod(r["size"])) for r in rows]
            ax.plot(xs, [r["speedup"] for r in rows], styles.get(dtype, ":"), marker="o",
                    color=palette(k % palette.N), label=f"{kernel} ({dtype})")
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size: 2 * n * n_in * n_out (flops of one dense product)")
    ax.set_ylabel("speed-up of the loops (matrix time / loops time)")
    env = report["environment"]
    ax.set_title(f"fastnn loops vs matrix: {env['numba_threads']} threads, {env['blas']}, {env['cpu']}",
                 fontsize=9)
    ax.legend(fontsize=7, ncols=2)
    fig.savefig(os.fspath(path), dpi=120)
    return path

