"""The compile cache across processes (fastnn/_cache.py, fastnn/_jit.py).

Every test runs fastnn from a private copy of the package, so that its cache starts
empty and edits touch only the copy.  A process reports the fastnn kernels it
compiled (Numba's ``numba:compile`` events); one that found everything in the cache
compiles none.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

# a 64-128-10 network (the size of `fastnn train`): its steps take the serial GEMM
_SCRIPT = r"""
import json, sys
from numba.core import event

compiled = []

class Count(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        func = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
        if func is not None and func.__module__.startswith("fastnn"):
            compiled.append(func.__qualname__)

event.register("numba:compile", Count())
import numpy as np
import fastnn

dtype = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 64)).astype(dtype)
t = np.arange(64) % 10
net = fastnn.Network([fastnn.Dense(64, 128), fastnn.ReLU(), fastnn.Dense(128, 10)],
                     loss="softmax_cross_entropy", dtype=dtype, seed=0)
net.train_step(x[:32], t[:32], lr=0.01)
hist = net.fit(x, t, epochs=1, batch_size=32, lr=0.01, seed=0)
print(json.dumps({"compiled": compiled, "loss": float(hist.loss[-1]),
                  "y": net.predict(x[:4]).ravel().tolist()}))
"""


def _copy(tmp_path):
    import fastnn

    target = tmp_path / "pkg" / "fastnn"
    shutil.copytree(os.path.dirname(fastnn.__file__), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _env(tmp_path, **extra):
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "pkg"), FASTNN_CACHE="1")
    env.pop("NUMBA_CACHE_DIR", None)
    return dict(env, **extra)


def _start(tmp_path, dtype, env):
    return subprocess.Popen([sys.executable, "-c", _SCRIPT, dtype], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process):
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.splitlines()[-1])


def _run(tmp_path, dtype, env=None):
    return _finish(_start(tmp_path, dtype, env or _env(tmp_path)))


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_cache_holds_across_dtypes_and_edits_that_define_no_kernel(tmp_path):
    package = _copy(tmp_path)
    first32 = _run(tmp_path, "float32")
    first64 = _run(tmp_path, "float64")
    assert "_gemm_block" in first32["compiled"] and "_gemm_block" in first64["compiled"]
    # compiling the float64 variants did not drop the float32 ones, nor the reverse
    again32 = _run(tmp_path, "float32")
    assert again32["compiled"] == [] and again32 == dict(first32, compiled=[])
    assert _run(tmp_path, "float64")["compiled"] == []
    # files that define no kernel, the docstring of a module that does, and the
    # docstring and comments of a kernel (the GEMM itself)
    (package / "cli.py").write_text((package / "cli.py").read_text() + "\n# an edit\n")
    (package / "data.py").write_text((package / "data.py").read_text() + "\n\ndef _helper():\n    return 1\n")
    _edit(package / "loops" / "dense.py", '"""Dense layer, loop form', '"""Dense layer (edited), loop form')
    _edit(package / "loops" / "_gemm.py", '"""C = op(A) . op(B) written out by ``mode``',
          '"""C = op(A) . op(B) (an edited docstring) written out by ``mode``')
    _edit(package / "loops" / "_gemm.py", "    # C = op(P) . op(Q), rows x cols", "    # an edited comment\n    # C = op(P) . op(Q), rows x cols")
    assert _run(tmp_path, "float32")["compiled"] == []
    # an edit of one activation kernel: that kernel and the kernels that link it
    # compile again; the GEMM, the losses and the optimizers come from the cache
    _edit(package / "loops" / "activations.py", "y[k] = 0 if x[k] <= 0 else x[k]", "y[k] = x[k] if x[k] > 0 or x[k] != x[k] else 0")
    edited = _run(tmp_path, "float32")["compiled"]
    assert "_forward_block" in edited and "_train_step" in edited
    assert not {"_gemm", "_gemm_block", "_loss_rows", "_update_block", "_backward_block"} & set(edited), edited


def test_kernel_compiled_against_cached_kernels_loads_in_a_later_process(tmp_path):
    # regression: process 1 cached train_step's kernels; process 2 compiled the epoch
    # kernel against them, without the note that Numba's threads must start before
    # its code is loaded; process 3 loaded it first and called address 0 (segfault)
    _copy(tmp_path)
    code = textwrap.dedent("""
        import sys, numpy as np, fastnn
        n_in, hidden, k, batch = map(int, sys.argv[2:])
        x = np.random.default_rng(0).standard_normal((64, n_in)).astype(np.float32)
        t = np.arange(64) % k
        net = fastnn.Network([fastnn.Dense(n_in, hidden), fastnn.ReLU(), fastnn.Dense(hidden, k)],
                             loss="softmax_cross_entropy", seed=0)
        if sys.argv[1] == "step":
            net.train_step(x[:1], t[:1], lr=0.01)
        else:
            fastnn.Trainer(net, x, t, batch_size=batch, lr=0.01, seed=0).epoch()
        print("done")
    """)
    runs = [("step", 3, 1, 2, 1), ("fit", 3, 1, 2, 1), ("fit", 64, 128, 10, 32), ("fit", 64, 128, 10, 32)]
    for number, args in enumerate(runs, 1):
        result = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                                env=_env(tmp_path), timeout=900, cwd=tmp_path)
        assert result.returncode == 0 and "done" in result.stdout, (number, result.returncode, result.stderr[-2000:])


def test_two_processes_starting_cold_at_once_leave_a_valid_cache(tmp_path):
    _copy(tmp_path)
    env = _env(tmp_path)
    both = [_start(tmp_path, "float32", env), _start(tmp_path, "float32", env)]
    results = [_finish(process) for process in both]
    assert results[0]["compiled"] and results[0]["loss"] == results[1]["loss"]
    third = _run(tmp_path, "float32", env)
    assert third["compiled"] == [] and third["y"] == results[0]["y"]


def test_damaged_cache_files_are_compiled_again(tmp_path):
    package = _copy(tmp_path)
    first = _run(tmp_path, "float64")
    files = sorted(package.rglob("*.nbc"))
    assert files
    for number, path in enumerate(files):
        data = path.read_bytes()
        # cut short, or one byte changed in the middle
        path.write_bytes(data[:len(data) // 3] if number % 2 else data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    again = _run(tmp_path, "float64")
    assert again["compiled"] and again["y"] == first["y"] and again["loss"] == first["loss"]
    assert _run(tmp_path, "float64")["compiled"] == []


def _set_immutable(path, on):
    flag = "+i" if on else "-i"
    return subprocess.run(["chattr", "-R", flag, str(path)], capture_output=True).returncode == 0


def test_read_only_install_caches_in_the_user_folder_and_cache_dir_is_honoured(tmp_path):
    package = _copy(tmp_path)
    # the package and every folder in it read-only, even for root (an immutable
    # file system attribute); skipped where chattr is not allowed
    if shutil.which("chattr") is None or not _set_immutable(package, True):
        pytest.skip("cannot make the package read-only here (chattr)")
    try:
        user = tmp_path / "user-cache"
        env = _env(tmp_path, XDG_CACHE_HOME=str(user))
        assert _run(tmp_path, "float32", env)["compiled"]
        assert list(user.rglob("*.nbc")), "nothing was cached in the user's cache folder"
        assert _run(tmp_path, "float32", env)["compiled"] == []
        chosen = tmp_path / "chosen"
        env = _env(tmp_path, XDG_CACHE_HOME=str(user), NUMBA_CACHE_DIR=str(chosen))
        assert _run(tmp_path, "float32", env)["compiled"]
        assert list(chosen.rglob("*.nbc"))
        assert _run(tmp_path, "float32", env)["compiled"] == []
    finally:
        _set_immutable(package, False)
