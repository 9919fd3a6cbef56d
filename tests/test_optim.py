"""Public optimizer kernels: loop form vs matrix form vs NumPy written here, bad input."""

import re

import numpy as np
import pytest

from conftest import assert_forms_close, assert_unchanged, data, snapshot
from fastnn import _config
from fastnn.loops import optim as loop_optim
from fastnn.matrix import optim as matrix_optim

OPTIM_FORMS = {"loops": loop_optim, "matrix": matrix_optim}
# 1 and 7 run serially; 40_000 > PARALLEL_MIN_ELEMENTS = 2**15 takes the parallel path,
# with a partial last block of BLOCK = 4096.
SIZES = (1, 7, 40_000)
PARALLEL_SIZES = SIZES[-1:]
LR, MU = 0.05, 0.9


def test_sizes_cross_the_parallel_threshold_exactly_where_intended():
    for size in SIZES:
        assert (size >= _config.PARALLEL_MIN_ELEMENTS) == (size in PARALLEL_SIZES)
        if size in PARALLEL_SIZES:
            assert size % loop_optim.BLOCK != 0


def state(size, dtype, seed):
    """Parameters, gradients and a non-trivial optimizer state (s must be >= 0)."""
    p, g, m = (data(size, dtype, seed + k) for k in range(3))
    s = np.abs(data(size, dtype, seed + 3))
    return p, g, m, s


def run_both(name, arrays, *args, **kwargs):
    """Call ``name`` of both forms on copies of ``arrays``; return both sets of arrays."""
    results = []
    for module in OPTIM_FORMS.values():
        copies = [a.copy() for a in arrays]
        assert getattr(module, name)(*copies, *args, **kwargs) is None
        results.append(copies)
    return results


def assert_both_match(results, expected, dtype):
    for copies in results:
        for actual, want in zip(copies, expected):
            # a handful of roundings per element (Adam: ~6): ELEMENT_ULPS of conftest
            assert_forms_close(actual, want, dtype)


@pytest.mark.parametrize("size", SIZES)
def test_sgd_update(size, dtype):
    p, g, _, _ = state(size, dtype, 0)
    results = run_both("sgd_update", (p, g), LR)
    p64, g64 = p.astype(np.float64), g.astype(np.float64)
    assert_both_match(results, (p64 - LR * g64, g64), dtype)
    # g is only read
    assert all(np.array_equal(r[1], g) for r in results)


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
@pytest.mark.parametrize("size", SIZES)
def test_momentum_update(size, dtype, nesterov):
    p, g, v, _ = state(size, dtype, 1)
    results = run_both("momentum_update", (p, g, v), LR, MU, nesterov)
    p64, g64, v64 = (a.astype(np.float64) for a in (p, g, v))
    v_new = MU * v64 - LR * g64
    p_new = p64 + (MU * v_new - LR * g64 if nesterov else v_new)
    assert_both_match(results, (p_new, g64, v_new), dtype)


@pytest.mark.parametrize("step", [1, 2, 50])
@pytest.mark.parametrize("size", SIZES)
def test_adam_update(size, dtype, step):
    b1, b2, eps = 0.8, 0.99, 1e-3
    p, g, m, s = state(size, dtype, 2)
    results = run_both("adam_update", (p, g, m, s), step, LR, b1, b2, eps)
    p64, g64, m64, s64 = (a.astype(np.float64) for a in (p, g, m, s))
    m_new = b1 * m64 + (1 - b1) * g64
    s_new = b2 * s64 + (1 - b2) * g64 ** 2
    lr_t = LR * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
    p_new = p64 - lr_t * m_new / (np.sqrt(s_new) + eps)
    assert_both_match(results, (p_new, g64, m_new, s_new), dtype)


def test_adam_from_zero_state_moves_each_parameter_by_about_lr():
    # the textbook property of Adam's first step: the bias corrections cancel, so
    # |Δp| = lr · |g| / (|g| + ε / √(1 − β2)), about lr whatever the scale of g
    p, g = data(9, np.float64, 3), data(9, np.float64, 4)
    for module in OPTIM_FORMS.values():
        q, m, s = p.copy(), np.zeros(9), np.zeros(9)
        module.adam_update(q, g, m, s, 1, LR)
        np.testing.assert_allclose(np.abs(q - p), LR * np.abs(g) / (np.abs(g) + 1e-8 / np.sqrt(0.001)), rtol=1e-9)
        assert np.all(np.abs(q - p) > 0.99 * LR)
        np.testing.assert_array_equal(np.sign(p - q), np.sign(g))


@pytest.mark.parametrize("size", PARALLEL_SIZES)
def test_loop_form_is_bitwise_independent_of_the_thread_count(size):
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads")
    p, g, m, s = state(size, np.float32, 5)
    before = numba.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            arrays = [a.copy() for a in (p, g, m, s)]
            loop_optim.adam_update(*arrays, 3, LR)
            outs.append(arrays)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*outs):
        assert a.tobytes() == b.tobytes()


# --- bad input --------------------------------------------------------------------------


def _f32(size=5, seed=0):
    return data(size, np.float32, seed)


def _readonly(a):
    a.flags.writeable = False
    return a


def _aliased_pg():
    p = _f32()
    return p, p, 0.1


def _aliased_ms():
    p, g, m = _f32(), _f32(seed=1), np.zeros(5, np.float32)
    return p, g, m, m, 1, 0.1


def _overlapping_pg():
    buf = _f32(8)
    return buf[:5], buf[3:8], 0.1


def _nan_g():
    g = _f32(seed=1)
    g[2] = np.nan
    return _f32(), g, 0.1


BAD = [
    # (function, make_args, exception, fragment of the message)
    ("sgd_update", lambda: ([1.0, 2.0], _f32(2), 0.1), TypeError, "p must be a numpy.ndarray"),
    ("sgd_update", lambda: (np.arange(5), _f32(), 0.1), TypeError, "p must have dtype float32 or float64, got int64"),
    ("sgd_update", lambda: (_f32(), _f32().astype(np.float64), 0.1), TypeError,
     "g has dtype float64 but p has dtype float32"),
    ("sgd_update", lambda: (_f32(), _f32(4), 0.1), ValueError, "g must have shape (size,) like p = (5,), got (4,)"),
    ("sgd_update", lambda: (_f32().reshape(5, 1), _f32().reshape(5, 1), 0.1), ValueError,
     "p must be a non-empty 1-D array"),
    ("sgd_update", lambda: (np.zeros(0, np.float32), np.zeros(0, np.float32), 0.1), ValueError,
     "p must be a non-empty 1-D array"),
    ("sgd_update", lambda: (_readonly(_f32()), _f32(), 0.1), ValueError, "p (size,) is read-only"),
    ("sgd_update", _aliased_pg, ValueError, "p, g and the optimizer state must be separate arrays"),
    ("sgd_update", _overlapping_pg, ValueError, "p, g and the optimizer state must be separate arrays"),
    ("sgd_update", _nan_g, ValueError, "g contains a non-finite value (nan) at index (2,)"),
    ("sgd_update", lambda: (_f32(), _f32(), float("nan")), ValueError, "lr must be finite"),
    ("sgd_update", lambda: (_f32(), _f32(), float("inf")), ValueError, "lr must be finite"),
    ("sgd_update", lambda: (_f32(), _f32(), "0.1"), TypeError, "lr must be a real number, got str"),
    ("sgd_update", lambda: (_f32(), _f32(), 1e39), ValueError, "lr must be finite in float32"),
    ("momentum_update", lambda: (_f32(), _f32(), _f32(4), 0.1), ValueError, "velocity must have shape"),
    ("momentum_update", lambda: (_f32(), _f32(), _f32().astype(np.float64), 0.1), TypeError,
     "velocity must be a numpy.ndarray with the dtype of p (float32)"),
    ("momentum_update", lambda: (_f32(), _f32(), _readonly(_f32()), 0.1), ValueError, "velocity (size,) is read-only"),
    ("momentum_update", lambda: (_f32(), _f32(), _f32(), 0.1, 1.0), ValueError,
     "momentum must be a number in [0, 1), got 1.0"),
    ("momentum_update", lambda: (_f32(), _f32(), _f32(), 0.1, -0.5), ValueError, "momentum must be a number in [0, 1)"),
    ("adam_update", _aliased_ms, ValueError, "p, g and the optimizer state must be separate arrays"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), 0, 0.1), ValueError, "step must be an integer >= 1, got 0"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), 1.5, 0.1), ValueError, "step must be an integer >= 1"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), True, 0.1), ValueError, "step must be an integer >= 1"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), 1, 0.1, 1.0), ValueError, "beta1 must be a number in [0, 1)"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), 1, 0.1, 0.9, -0.1), ValueError,
     "beta2 must be a number in [0, 1)"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(), 1, 0.1, 0.9, 0.99, 0.0), ValueError, "eps must be a number > 0"),
    ("adam_update", lambda: (_f32(), _f32(), _f32(), _f32(4), 1, 0.1), ValueError, "s must have shape"),
]


@pytest.mark.parametrize("name, make, exc, fragment", BAD, ids=[f"{b[0]}-{b[3][:30]}" for b in BAD])
def test_bad_input_is_rejected_with_a_clear_message_and_nothing_written(name, make, exc, fragment):
    messages = []
    for module in OPTIM_FORMS.values():
        args = make()
        snap = snapshot(args)
        with pytest.raises(exc, match=re.escape(fragment)) as info:
            getattr(module, name)(*args)
        assert type(info.value) is exc
        assert_unchanged(snap)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_check_finite_false_skips_only_the_finite_check():
    # without the input check, the ValueError on g goes; the kernels still refuse an
    # update that would make a parameter non-finite, and write nothing
    p, g = _f32(), _f32(seed=1)
    g[0] = np.inf
    for module in OPTIM_FORMS.values():
        q = p.copy()
        with pytest.raises(ValueError, match="g contains a non-finite value"):
            module.sgd_update(q, g, 0.1)
        with pytest.raises(FloatingPointError, match="non-finite; nothing was changed"):
            module.sgd_update(q, g, 0.1, check_finite=False)
        assert np.array_equal(q, p)
        g_ok = g.copy()
        g_ok[0] = 1
        module.sgd_update(q, g_ok, 0.1, check_finite=False)
        assert np.array_equal(q, p - np.float32(0.1) * g_ok)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [7, 40_000])  # serial and parallel paths
def test_update_that_overflows_is_refused(dtype, size):
    # finite inputs whose update overflows: SGD's p − lr g, Adam's second moment g²
    big = np.finfo(dtype).max
    for module in OPTIM_FORMS.values():
        p = np.ones(size, dtype)
        g = np.ones(size, dtype)
        g[size // 2] = big
        m, s = np.zeros(size, dtype), np.zeros(size, dtype)
        with pytest.raises(FloatingPointError):
            module.sgd_update(p, g, 10.0)
        with pytest.raises(FloatingPointError):
            module.adam_update(p, g, m, s, 1, 0.1)
        with pytest.raises(FloatingPointError):
            module.momentum_update(p, g, m, 10.0, nesterov=True)
        assert (p == 1).all() and (m == 0).all() and (s == 0).all()
