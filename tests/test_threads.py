"""The loop form gives bitwise identical results for 1 and 2 threads (README: race-free by ownership).

Every kernel runs at a size above its parallel threshold (so ``prange`` really splits
the work), once on one thread and once on two, and the bytes must be equal.
"""

import numba
import numpy as np
import pytest

from conftest import (ACTIVATIONS, DENSE_PARALLEL_SHAPES, ROW_PARALLEL_SHAPES, assert_bitwise_equal,
                      data, labels, one_hot, shape_id)
from fastnn import loops

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                reason="needs at least 2 Numba threads (NUMBA_NUM_THREADS)")

ROWS, K = ROW_PARALLEL_SHAPES[0]


def _dense_calls(dtype, shape=DENSE_PARALLEL_SHAPES[-1]):
    n, n_in, n_out = shape
    x, w = data((n, n_in), dtype, 1), data((n_in, n_out), dtype, 2)
    b, dy = data((n_out,), dtype, 3), data((n, n_out), dtype, 4)

    def sgd_update():
        w1, b1 = w.copy(), b.copy()
        loops.dense_sgd_update(x, dy, w1, b1, 0.01)
        return w1, b1

    return {
        "dense_forward": lambda: loops.dense_forward(x, w, b),
        "dense_backward_input": lambda: loops.dense_backward_input(dy, w),
        "dense_backward_params": lambda: loops.dense_backward_params(x, dy),
        "dense_sgd_update": sgd_update,
    }


def _row_calls(dtype):
    x, dy = data((ROWS, K), dtype, 5, scale=3.0), data((ROWS, K), dtype, 6)
    t = data((ROWS, K), dtype, 7)
    lab = labels(ROWS, K, 8)
    calls = {"softmax": lambda: loops.softmax(x), "half_sse": lambda: loops.half_sse(x, t)}
    for name in ACTIVATIONS:
        calls[name] = lambda f=getattr(loops, name): f(x)
        calls[name + "_backward"] = lambda f=getattr(loops, name + "_backward"): f(x, dy)
    for red in ("mean", "sum"):
        calls[f"mse-{red}"] = lambda red=red: loops.mse(x, t, red)
        calls[f"cross_entropy-labels-{red}"] = lambda red=red: loops.softmax_cross_entropy(x, lab, red)
        calls[f"cross_entropy-one_hot-{red}"] = (
            lambda red=red: loops.softmax_cross_entropy(x, one_hot(lab, K, dtype), red))
    return calls


DENSE_KERNELS = sorted(_dense_calls(np.float64))
ROW_KERNELS = sorted(_row_calls(np.float64))


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def _flatten(result):
    return list(result) if isinstance(result, tuple) else [result]


def _assert_same_on_one_and_two_threads(call):
    numba.set_num_threads(1)
    one = _flatten(call())
    numba.set_num_threads(2)
    two = _flatten(call())
    assert numba.get_num_threads() == 2
    assert len(one) == len(two)
    for a, b in zip(one, two):
        assert_bitwise_equal(a, b)
        assert np.all(np.isfinite(a))


# every parallel shape: between them they split each product, as _gemm orients it,
# by rows and by columns
@pytest.mark.parametrize("shape", DENSE_PARALLEL_SHAPES, ids=shape_id)
@pytest.mark.parametrize("kernel", DENSE_KERNELS)
def test_dense_one_and_two_threads_agree_bitwise(kernel, shape, dtype, restore_threads):
    _assert_same_on_one_and_two_threads(_dense_calls(dtype, shape)[kernel])


@pytest.mark.parametrize("kernel", ROW_KERNELS)
def test_one_and_two_threads_agree_bitwise(kernel, dtype, restore_threads):
    _assert_same_on_one_and_two_threads(_row_calls(dtype)[kernel])
