"""Process-level behaviour of fastnn/_config.py: the safe Numba options, and a
threading layer that is not started at import, so fork() after import is safe."""

import os
import subprocess
import sys
import textwrap

import pytest

from fastnn import _config

# a multiply-add count that takes the parallel path of the dense kernels
PARALLEL_SHAPE = (512, 1024, 1024)
assert PARALLEL_SHAPE[0] * PARALLEL_SHAPE[1] * PARALLEL_SHAPE[2] >= _config.PARALLEL_MIN_FLOPS


def _run(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=600)
    return result.returncode, result.stdout + result.stderr


def test_safe_configuration_flags():
    assert "nnan" not in _config.FASTMATH and "ninf" not in _config.FASTMATH
    assert _config.SERIAL["error_model"] == "numpy" and _config.PARALLEL["parallel"] is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_import_can_run_parallel_kernels():
    code = f"""
        import os
        import numpy as np
        import fastnn
        pid = os.fork()
        if pid == 0:
            x = np.ones({PARALLEL_SHAPE[:2]}, np.float32)
            w = np.ones({PARALLEL_SHAPE[1:]}, np.float32)
            y = fastnn.loops.dense_forward(x, w, np.zeros({PARALLEL_SHAPE[2]}, np.float32))
            os._exit(0 if y[0, 0] == {PARALLEL_SHAPE[1]} else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """
    status, output = _run(code)
    assert status == 0 and "child 0" in output, output


_STEP = """
import numpy as np, fastnn
x = np.random.default_rng(0).standard_normal((64, {n_in})).astype(np.float32)
t = np.arange(64) % {k}
layers = [fastnn.Dense({n_in}, {hidden}), fastnn.ReLU(), fastnn.Dense({hidden}, {k})]
net = fastnn.Network(layers, loss="softmax_cross_entropy", seed=0)
{action}
print("done")
"""


def test_function_compiled_against_cached_kernels_is_not_cached(tmp_path):
    # regression: process 1 caches train_step's kernels; process 2 compiles the epoch
    # kernel against those cached kernels and cached it with calls by symbol that
    # only process 2 defined; process 3 loaded it and called address 0 (segfault).
    # Runs on a private copy of the package, so its cache starts empty.
    import shutil

    import fastnn

    shutil.copytree(os.path.dirname(fastnn.__file__), tmp_path / "fastnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    step = dict(action="net.train_step(x[:1], t[:1], lr=0.01)")
    fit = dict(action="fastnn.Trainer(net, x, t, batch_size={batch}, lr=0.01, seed=0).epoch()")
    small = dict(n_in=3, hidden=1, k=2, batch=1)
    large = dict(n_in=64, hidden=128, k=10, batch=32)
    runs = [(step, small), (fit, small), (fit, large), (fit, large)]
    for number, (what, shape) in enumerate(runs, 1):
        code = _STEP.format(action=what["action"].format(**shape), **shape)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                timeout=900, cwd=tmp_path)
        assert result.returncode == 0 and "done" in result.stdout, (number, result.returncode, result.stderr[-2000:])
