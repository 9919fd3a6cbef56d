"""Dense kernels alone: the loop form's compiled kernels or NumPy's products, GFLOP/s.

Run from the repository root, one library per process (measured in one process, a
thread pool still spinning after its call slows the other library's next call)::

    python benchmarks/dense_table.py loops
    NUMBA_NUM_THREADS=1 python benchmarks/dense_table.py loops
    env -u OPENBLAS_CORETYPE python benchmarks/dense_table.py numpy
    OPENBLAS_CORETYPE=Haswell python benchmarks/dense_table.py numpy
    python benchmarks/dense_table.py compare 5     # interleaved: loops / faster NumPy

Each line: dtype, (n, n_in, n_out), then time and GFLOP/s (2·n·n_in·n_out) of the
forward product, the input gradient, the weight gradient (with the bias sums) and the
fused SGD update (``w -= lr · xᵀ dy``, ``b -= lr · Σ_n dy``), medians of repeated
samples.  The loop form is timed through its private kernels
(``fastnn.loops.dense._dense_forward`` ...): no validation, preallocated outputs,
like ``np.matmul(..., out=)``; NumPy's update takes the product into a preallocated
buffer, scales it there and subtracts it from w in place (no temporary arrays).

``compare R`` runs the three (loops, NumPy with ``OPENBLAS_CORETYPE`` unset, NumPy
with it set to Haswell) one after another, R rounds, each in a fresh process, and
prints for every cell the median time of each over the rounds and the ratio
loops / faster NumPy (above 1: the loops are faster).

This file is a script, not an asv benchmark: it defines no ``time_`` functions.
"""

import os
import statistics
import subprocess
import sys

import numpy as np

SIZES = [(32, 64, 128), (128, 784, 256), (512, 1024, 1024), (1024, 2048, 2048)]
KERNELS = ["forward", "input gradient", "weight gradient", "sgd update"]


def _kernels(which, x, w, b, y, dy, dx, dw, db):
    # the update changes its own copies of w and b (by about lr · 1e3 per call, a
    # step too small to overflow in any number of calls timed here)
    w_upd, b_upd, lr = w.copy(), b.copy(), w.dtype.type(1e-6)
    if which == "loops":
        from fastnn.loops.dense import (_dense_backward_input, _dense_backward_params, _dense_forward,
                                        _dense_sgd_update)

        return [lambda: _dense_forward(x, w, b, y), lambda: _dense_backward_input(dy, w, dx),
                lambda: _dense_backward_params(x, dy, dw, db),
                lambda: _dense_sgd_update(x, dy, w_upd, b_upd, lr)]

    def update():
        np.multiply(np.matmul(x.T, dy, out=dw), lr, out=dw)
        np.subtract(w_upd, dw, out=w_upd)
        np.subtract(b_upd, np.multiply(np.sum(dy, axis=0, out=db), lr, out=db), out=b_upd)

    return [lambda: np.add(np.matmul(x, w, out=y), b, out=y), lambda: np.matmul(dy, w.T, out=dx),
            lambda: (np.matmul(x.T, dy, out=dw), np.sum(dy, axis=0, out=db)), update]


def _run(which, coretype, sizes):
    """{(dtype, size, kernel): seconds} of one fresh process of ``which``."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run([sys.executable, __file__, which, "--raw", sizes], env=env, check=True,
                         capture_output=True, text=True).stdout
    cells = {}
    for line in out.splitlines():
        dtype, size, kernel, seconds = line.split("\t")
        cells[dtype, size, kernel] = float(seconds)
    return cells


def compare(rounds, sizes):
    runs = {"loops": [], "numpy": [], "numpy-haswell": []}
    for _ in range(rounds):
        runs["loops"].append(_run("loops", None, sizes))
        runs["numpy"].append(_run("numpy", None, sizes))
        runs["numpy-haswell"].append(_run("numpy", "Haswell", sizes))
    print(f"medians of {rounds} interleaved rounds; ratio = faster NumPy / loops")
    print(f"{'dtype':8s} {'size':18s} {'kernel':16s} {'loops':>10s} {'numpy':>10s} {'haswell':>10s} {'ratio':>6s}")
    for key in runs["loops"][0]:
        med = {name: statistics.median(run[key] for run in rs) for name, rs in runs.items()}
        ratio = min(med["numpy"], med["numpy-haswell"]) / med["loops"]
        print(f"{key[0]:8s} {key[1]:18s} {key[2]:16s} {med['loops'] * 1e6:8.1f}us {med['numpy'] * 1e6:8.1f}us "
              f"{med['numpy-haswell'] * 1e6:8.1f}us {ratio:6.2f}", flush=True)


def main(which, raw=False, sizes=None):
    if which not in ("loops", "numpy"):
        raise SystemExit("usage: python benchmarks/dense_table.py loops|numpy|compare [rounds]")
    from fastnn.compare import measure

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n, n_in, n_out in sizes or SIZES:
            x = rng.standard_normal((n, n_in)).astype(dtype)
            w = rng.standard_normal((n_in, n_out)).astype(dtype)
            dy = rng.standard_normal((n, n_out)).astype(dtype)
            b, y, dx = np.zeros(n_out, dtype), np.empty((n, n_out), dtype), np.empty_like(x)
            dw, db = np.empty_like(w), np.empty(n_out, dtype)
            repeat = 21 if n < 1024 else 7
            inner = 200 if n <= 32 else (20 if n <= 128 else 1)
            cells = []
            for name, kernel in zip(KERNELS, _kernels(which, x, w, b, y, dy, dx, dw, db)):
                seconds = measure(kernel, repeat, number=inner)[0]
                if raw:
                    print(f"{np.dtype(dtype).name}\t{(n, n_in, n_out)}\t{name}\t{seconds!r}")
                cells.append(f"{seconds * 1e6:10.1f} us {2 * n * n_in * n_out / seconds / 1e9:6.1f} GF/s")
            if not raw:
                print(f"{np.dtype(dtype).name:8s} {str((n, n_in, n_out)):18s} " + " ".join(cells), flush=True)


def _sizes(text):
    """``"32x64x128,512x1024x1024"`` -> [(32, 64, 128), (512, 1024, 1024)]."""
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",")] if text else None


if __name__ == "__main__":
    args = sys.argv[1:] or ["loops"]
    if args[0] == "compare":
        # compare [rounds] [sizes, as 32x64x128,...]
        compare(int(args[1]) if len(args) > 1 else 5, args[2] if len(args) > 2 else "")
    else:
        main(args[0], raw="--raw" in args, sizes=_sizes(args[2]) if len(args) > 2 else None)
