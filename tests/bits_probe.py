"""Run every public loop kernel and a whole ``Network.fit``, print their bits.

Run as a script by ``test_same_bits.py``, one process per cache state:

    python bits_probe.py [--only float32] [--reverse]

prints one JSON object: for each call, the SHA-256 of the bytes it returned (the
same on 1 and 2 threads, or the call is listed under ``"thread_mismatch"``).
``--only`` runs the calls of one dtype; ``--reverse`` runs them in reverse order, so
that the kernels are compiled in another order than the default's.
"""

import argparse
import hashlib
import json
import os
import sys

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import (ACTIVATIONS, DENSE_PARALLEL_SHAPES, ROW_PARALLEL_SHAPES, data, labels,  # noqa: E402
                      one_hot)

import fastnn  # noqa: E402
from fastnn import loops  # noqa: E402

DENSE = [(9, 2, 3), (17, 31, 13), DENSE_PARALLEL_SHAPES[-1]]
ROWS = [(7, 33), (17, 31), ROW_PARALLEL_SHAPES[0]]
OPTIM_SIZES = [37, 40000]


def _dense_calls(dtype):
    calls = {}
    for shape in DENSE:
        n, n_in, n_out = shape
        x, w = data((n, n_in), dtype, 1), data((n_in, n_out), dtype, 2)
        b, dy = data((n_out,), dtype, 3), data((n, n_out), dtype, 4)

        def sgd_update(x=x, dy=dy, w=w, b=b):
            w1, b1 = w.copy(), b.copy()
            loops.dense_sgd_update(x, dy, w1, b1, 0.01)
            return w1, b1

        tag = "x".join(map(str, shape))
        calls[f"dense_forward-{tag}"] = lambda x=x, w=w, b=b: loops.dense_forward(x, w, b)
        calls[f"dense_backward_input-{tag}"] = lambda dy=dy, w=w: loops.dense_backward_input(dy, w)
        calls[f"dense_backward_params-{tag}"] = lambda x=x, dy=dy: loops.dense_backward_params(x, dy)
        calls[f"dense_sgd_update-{tag}"] = sgd_update
    return calls


def _row_calls(dtype):
    calls = {}
    for rows, k in ROWS:
        x, dy = data((rows, k), dtype, 5, scale=3.0), data((rows, k), dtype, 6)
        t, lab = data((rows, k), dtype, 7), labels(rows, k, 8)
        tag = f"{rows}x{k}"
        calls[f"softmax-{tag}"] = lambda x=x: loops.softmax(x)
        calls[f"half_sse-{tag}"] = lambda x=x, t=t: loops.half_sse(x, t)
        for name in ACTIVATIONS:
            calls[f"{name}-{tag}"] = lambda f=getattr(loops, name), x=x: f(x)
            calls[f"{name}_backward-{tag}"] = lambda f=getattr(loops, name + "_backward"), x=x, dy=dy: f(x, dy)
        for red in ("mean", "sum"):
            calls[f"mse-{red}-{tag}"] = lambda red=red, x=x, t=t: loops.mse(x, t, red)
            calls[f"cross_entropy-labels-{red}-{tag}"] = (
                lambda red=red, x=x, lab=lab: loops.softmax_cross_entropy(x, lab, red))
            calls[f"cross_entropy-one_hot-{red}-{tag}"] = (
                lambda red=red, x=x, t=one_hot(lab, k, dtype): loops.softmax_cross_entropy(x, t, red))
            calls[f"sigmoid_cross_entropy-{red}-{tag}"] = (
                lambda red=red, x=x, t=(t > 0).astype(dtype): loops.sigmoid_cross_entropy(x, t, red))
            calls[f"poisson-{red}-{tag}"] = lambda red=red, x=x, t=np.abs(t): loops.poisson(x / 3, t, red)
    return calls


def _optim_calls(dtype):
    from fastnn.loops import optim

    calls = {}
    for size in OPTIM_SIZES:
        p, g = data((size,), dtype, 9), data((size,), dtype, 10)

        def sgd(p=p, g=g):
            p = p.copy()
            optim.sgd_update(p, g, 0.01)
            return p

        def momentum(p=p, g=g):
            p, v = p.copy(), np.zeros_like(p)
            optim.momentum_update(p, g, v, 0.01, 0.9, True)
            return p, v

        def adam(p=p, g=g):
            p, m, s = p.copy(), np.zeros_like(p), np.zeros_like(p)
            optim.adam_update(p, g, m, s, 1, 0.01)
            return p, m, s

        calls.update({f"sgd_update-{size}": sgd, f"momentum_update-{size}": momentum,
                      f"adam_update-{size}": adam})
    return calls


def _network_calls(dtype):
    x = data((300, 20), dtype, 11)
    t = labels(300, 4, 12)

    def fit(optimizer, batch_size):
        net = fastnn.Network([fastnn.Dense(20, 64), fastnn.Tanh(), fastnn.Dense(64, 32), fastnn.ReLU(),
                              fastnn.Dense(32, 4)], loss="softmax_cross_entropy", dtype=dtype, seed=0)
        net.fit(x, t, epochs=3, batch_size=batch_size, lr=0.05, optimizer=optimizer, seed=1, progress=False)
        return net.params, net.predict(x), np.float64(net.loss(x, t)), net.gradients(x, t)

    return {"fit-sgd-32": lambda: fit("sgd", 32), "fit-adam-300": lambda: fit("adam", 300)}


def _arrays(result):
    if isinstance(result, (tuple, list)):
        for item in result:
            yield from _arrays(item)
    else:
        yield np.asarray(result)


def _digest(result):
    h = hashlib.sha256()
    for a in _arrays(result):
        h.update(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["float32", "float64"])
    parser.add_argument("--reverse", action="store_true")
    args = parser.parse_args()
    calls = {}
    for dtype in (np.float32, np.float64):
        if args.only and np.dtype(dtype).name != args.only:
            continue
        for make in (_dense_calls, _row_calls, _optim_calls, _network_calls):
            calls.update({f"{np.dtype(dtype).name}:{name}": call for name, call in make(dtype).items()})
    names = sorted(calls, reverse=args.reverse)
    digests, mismatch = {}, []
    for name in names:
        by_threads = set()
        for threads in (1, 2):
            numba.set_num_threads(threads)
            by_threads.add(_digest(calls[name]()))
        digests[name] = by_threads.pop()
        if by_threads:
            mismatch.append(name)
    print(json.dumps({"digests": digests, "thread_mismatch": mismatch}))


if __name__ == "__main__":
    main()
