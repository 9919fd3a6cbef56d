"""The loop form gives the same bits in every process, whatever its cache held.

``bits_probe.py`` runs every public loop kernel (at sizes below and above the
parallel thresholds), the optimizers and whole ``Network.fit`` calls, each on 1 and
2 threads, and prints the SHA-256 of every result.  Here it runs in separate
processes that reach the kernels in every way a user's process can:

- with the cache off (``FASTNN_CACHE=0``): everything compiled, nothing saved;
- with an empty cache: everything compiled and saved;
- with that cache full: everything loaded;
- after another program compiled the float64 variants, in another order, into a
  cache of their own: float64 loaded, float32 compiled against the cached kernels.

Every process must print the same digests, and each call must give the same bits on
1 and 2 threads.
"""

import json
import os
import subprocess
import sys

import pytest

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bits_probe.py")


def _start(cache_dir, *args, cache="1"):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), FASTNN_CACHE=cache, NUMBA_NUM_THREADS="2")
    return subprocess.Popen([sys.executable, PROBE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process):
    out, err = process.communicate(timeout=1200)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bits")
    first = {"cache off": _start(root / "off", cache="0"),
             "compiled": _start(root / "a"),
             "other variants": _start(root / "b", "--only", "float64", "--reverse")}
    first = {name: _finish(p) for name, p in first.items()}
    second = {"loaded": _start(root / "a"), "after other variants": _start(root / "b")}
    return dict(first, **{name: _finish(p) for name, p in second.items()})


@pytest.mark.parametrize("process", ["cache off", "compiled", "other variants", "loaded",
                                     "after other variants"])
def test_one_and_two_threads_agree(runs, process):
    assert runs[process]["thread_mismatch"] == []


@pytest.mark.parametrize("process", ["compiled", "other variants", "loaded", "after other variants"])
def test_same_bits_as_without_the_cache(runs, process):
    reference = runs["cache off"]["digests"]
    digests = runs[process]["digests"]
    assert set(digests) <= set(reference)
    assert len(digests) == len(reference) or process == "other variants"
    differ = sorted(name for name in digests if digests[name] != reference[name])
    assert differ == [], f"{len(differ)} of {len(digests)} calls give other bits: {differ}"
