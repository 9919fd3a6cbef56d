"""Compile time, measured in fresh processes (``python -c``), in seconds.

Modes:

no_cache
    ``FASTNN_CACHE=0``: every kernel is compiled from scratch.
cache_cold
    The on-disk cache on, in an empty ``NUMBA_CACHE_DIR``: compile and write the cache.
cache_warm
    The same cache folder again, in a second process: what a user sees from the second
    run on (the cache is loaded, nothing compiled).

``KernelCompile``: the time of ``import fastnn`` and of the first calls of the public
loop-form kernels on float32 inputs, in one process, summed by group (dense: the four
dense kernels; activations: the eight activation functions and softmax; losses: the
five losses) and over all (kernels share compiled code, so a group measured alone
would cost a little more).

``StepCompile``: in another process, the first ``Network.train_step`` of a float32
64-128-10 network (softmax cross-entropy, SGD, batch 32) and then the first epoch;
``first_trained_step`` is the wall time from launching the process to the end of that
first step: interpreter start, imports, network and step (target with a warm cache:
under 0.5 s).

``ColdStart``: what a user of the command line meets, on a private copy of the
package (its cache starts empty, and the edit below touches only the copy), each a
whole ``fastnn train`` process timed from launch to exit:

cold
    The first run: every kernel it needs is compiled.
warm
    The second run: everything is loaded from the cache.
warm_after_other_dtype
    ``fastnn train --dtype float64`` ran (and compiled its variants) in between.
warm_after_edit
    A file that defines no kernel (``cli.py``) was edited in between.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .common import KERNELS

GROUPS = {"dense": KERNELS[:4], "activations": KERNELS[4:13], "losses": KERNELS[13:]}

_KERNEL_SCRIPT = r"""
import json, time
start = time.perf_counter()
import numpy as np
from fastnn import loops
out = {"import": time.perf_counter() - start}
a = np.linspace(-1, 1, 4, dtype=np.float32).reshape(2, 2)
labels = np.zeros(2, dtype=np.intp)
calls = {
    "dense_forward": lambda: loops.dense_forward(a, a, a[0]),
    "dense_backward_input": lambda: loops.dense_backward_input(a, a),
    "dense_backward_params": lambda: loops.dense_backward_params(a, a),
    "dense_sgd_update": lambda: loops.dense_sgd_update(a, a, a.copy(), a[0].copy(), 0.1),
    "mse": lambda: loops.mse(a, a),
    "half_sse": lambda: loops.half_sse(a, a),
    "softmax_cross_entropy": lambda: loops.softmax_cross_entropy(a, labels),
    "sigmoid_cross_entropy": lambda: loops.sigmoid_cross_entropy(a, (a > 0).astype(a.dtype)),
    "poisson": lambda: loops.poisson(a, abs(a)),
}
for name in KERNELS:
    call = calls.get(name, lambda: getattr(loops, name)(*((a, a) if name.endswith("_backward") else (a,))))
    start = time.perf_counter()
    call()
    out[name] = time.perf_counter() - start
out["missing"] = sorted(set(loops.__all__) - set(KERNELS))
print(json.dumps(out))
"""

_STEP_SCRIPT = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np
import fastnn
out = {"import": time.perf_counter() - start}
rng = np.random.default_rng(0)
x = rng.standard_normal((32, 64)).astype(np.float32)
t = rng.integers(0, 10, size=32)
net = fastnn.Network([fastnn.Dense(64, 128), fastnn.ReLU(), fastnn.Dense(128, 10)],
                     loss="softmax_cross_entropy", dtype="float32", seed=0)
start = time.perf_counter()
net.train_step(x, t, lr=0.01)
out["train_step"] = time.perf_counter() - start
out["first_trained_step"] = time.time() - float(sys.argv[1])
start = time.perf_counter()
fastnn.Trainer(net, x, t, batch_size=8, lr=0.01, seed=0).epoch()
out["train_epoch"] = time.perf_counter() - start
print(json.dumps(out))
"""

MODES = ["no_cache", "cache_cold", "cache_warm"]


def _run(script, cache_dir, cache):
    """Run ``script`` in a fresh interpreter; return the dict it prints."""
    env = dict(os.environ, FASTNN_CACHE="1" if cache else "0", NUMBA_CACHE_DIR=cache_dir)
    env.pop("NUMBA_DISABLE_JIT", None)
    import fastnn  # the one this suite imports, whether installed or a checkout

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    code = f"KERNELS = {KERNELS!r}\n{script}"
    done = subprocess.run([sys.executable, "-c", code, repr(time.time())], env=env, cwd=cache_dir,
                          capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"compile-time process failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def _measure(script):
    results = {}
    with tempfile.TemporaryDirectory(prefix="fastnn-compile-") as cache_dir:
        results["no_cache"] = _run(script, cache_dir, cache=False)
    with tempfile.TemporaryDirectory(prefix="fastnn-compile-") as cache_dir:
        results["cache_cold"] = _run(script, cache_dir, cache=True)
        results["cache_warm"] = _run(script, cache_dir, cache=True)
    return results


def _kernel_groups(out):
    if out["missing"]:
        raise RuntimeError(f"kernels missing from benchmarks.common.KERNELS: {out['missing']}")
    sums = {group: sum(out[name] for name in names) for group, names in GROUPS.items()}
    return dict(sums, all_kernels=sum(sums.values()), **{"import": out["import"]})


class KernelCompile:
    params = [MODES, ["import", *GROUPS, "all_kernels"]]
    param_names = ["mode", "what"]
    unit = "seconds"
    timeout = 900

    def setup_cache(self):
        return {mode: _kernel_groups(out) for mode, out in _measure(_KERNEL_SCRIPT).items()}

    setup_cache.timeout = 900

    def track_seconds(self, results, mode, what):
        return results[mode][what]


class StepCompile:
    params = [MODES, ["train_step", "train_epoch", "first_trained_step"]]
    param_names = ["mode", "what"]
    unit = "seconds"
    timeout = 900

    def setup_cache(self):
        return _measure(_STEP_SCRIPT)

    setup_cache.timeout = 900

    def track_seconds(self, results, mode, what):
        return results[mode][what]


COLD_START = ["cold", "warm", "warm_after_other_dtype", "warm_after_edit"]


def _train_seconds(root, *args):
    """Wall time of one ``fastnn train`` process on the package copy in ``root``."""
    env = dict(os.environ, PYTHONPATH=root, FASTNN_CACHE="1")
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    start = time.perf_counter()
    command = [sys.executable, "-c", "import sys; from fastnn.cli import main; sys.exit(main())"]
    done = subprocess.run([*command, "train", "--no-progress", *args], env=env,
                          cwd=root, capture_output=True, text=True, check=False, timeout=900)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"fastnn train failed:\n{done.stderr}")
    return seconds


def cold_start_series():
    """The four ``ColdStart`` figures, in seconds, from one fresh copy of the package."""
    import fastnn

    with tempfile.TemporaryDirectory(prefix="fastnn-cold-") as root:
        package = os.path.join(root, "fastnn")
        shutil.copytree(os.path.dirname(os.path.abspath(fastnn.__file__)), package,
                        ignore=shutil.ignore_patterns("__pycache__"))
        out = {"cold": _train_seconds(root), "warm": _train_seconds(root)}
        _train_seconds(root, "--dtype", "float64")
        out["warm_after_other_dtype"] = _train_seconds(root)
        with open(os.path.join(package, "cli.py"), "a") as fh:
            fh.write("\n# an edit that defines no kernel\n")
        out["warm_after_edit"] = _train_seconds(root)
    return out


class ColdStart:
    params = [COLD_START]
    param_names = ["what"]
    unit = "seconds"
    timeout = 900

    def setup_cache(self):
        return cold_start_series()

    setup_cache.timeout = 900

    def track_seconds(self, results, what):
        return results[what]


if __name__ == "__main__":
    # python -m benchmarks.bench_compile [runs]: the ColdStart series, medians of runs
    import statistics

    runs = [cold_start_series() for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3)]
    for what in COLD_START:
        values = [run[what] for run in runs]
        print(f"{what:24s} median {statistics.median(values):6.2f} s   runs " + " ".join(f"{v:.2f}" for v in values))
