"""Shared fixtures and helpers for the kernel tests.

Everything numerical that more than one test file needs lives here: the two forms,
the dtypes and reductions, the test shapes (chosen against the thresholds of
``fastnn/_config.py``), seeded data, THE tolerances (one place, with their reasons),
finite differences, the bad-input harness and a small network assembled from the
kernels.
"""

import re

import numpy as np
import pytest

from fastnn import loops, matrix

# --- forms, dtypes, reductions ------------------------------------------------------

FORMS = {"loops": loops, "matrix": matrix}
DTYPES = (np.float32, np.float64)
REDUCTIONS = ("mean", "sum")


@pytest.fixture(params=list(FORMS), ids=list(FORMS))
def form(request):
    """The module of one form, :mod:`fastnn.loops` or :mod:`fastnn.matrix`."""
    return FORMS[request.param]


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(params=REDUCTIONS)
def reduction(request):
    return request.param


# --- shapes ---------------------------------------------------------------------------

# (n, n_in, n_out): ones, primes, and shapes whose n * n_in * n_out multiply-adds reach
# PARALLEL_MIN_FLOPS = 2**20, so the loop form takes its parallel path.  Besides the
# plain ones, they reach every branch of fastnn.loops._gemm._gemm:
#   (100, 130, 10)   a narrow layer computed as its transpose, serially
#   (1100, 200, 10)  the same in parallel, split by columns of the transpose
#   (64, 300, 128)   dx = dy.wᵀ split by columns (wᵀ costs more to pack than dy)
#   (520, 400, 8)    dx = dy.wᵀ split by rows all the same (C has 512 rows or more)
#   (40, 800, 70)    forward over 2 (float32) or 3 (float64) k blocks of K = 800
#   (800, 40, 70)    dw, and the fused update's partial sums, over 2 or 3 k blocks
#   (67, 127, 131)   partial tiles and row blocks everywhere
# test_dense checks that exactly the parallel ones cross.
DENSE_SHAPES = [(1, 1, 1), (1, 7, 3), (13, 1, 5), (5, 3, 1), (9, 2, 3), (17, 31, 13),
                (100, 130, 10), (64, 128, 129), (1100, 200, 10), (64, 300, 128),
                (40, 800, 70), (800, 40, 70), (520, 400, 8), (67, 127, 131)]
DENSE_PARALLEL_SHAPES = DENSE_SHAPES[7:]

# (n, k) for elementwise and row-wise kernels: (257, 131) has 33667 elements, above
# PARALLEL_MIN_ELEMENTS = 2**15 = 32768 (and more than ROW_BLOCK rows).
ROW_SHAPES = [(1, 1), (1, 7), (13, 1), (2, 3), (17, 31), (257, 131)]
ROW_PARALLEL_SHAPES = ROW_SHAPES[-1:]


def shape_id(shape):
    return "x".join(map(str, shape))


# --- data ---------------------------------------------------------------------------------


def data(shape, dtype, seed, scale=1.0):
    """Standard normal values (times ``scale``) of ``dtype``; the same for a seed, always."""
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(shape)).astype(dtype)


def labels(n, k, seed):
    """Class labels 0..k-1, every class used when n >= k."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % k)


def one_hot(lab, k, dtype):
    t = np.zeros((lab.shape[0], k), dtype=dtype)
    t[np.arange(lab.shape[0]), lab] = 1
    return t


def read_only(a):
    """A read-only copy of ``a``."""
    a = a.copy()
    a.flags.writeable = False
    return a


def away_from_zero(x, margin=1e-2):
    """``x`` with every |value| at least ``margin`` (signs kept): keeps finite
    differences of ReLU away from its kink at 0."""
    return np.where(x >= 0, np.maximum(x, margin), np.minimum(x, -margin)).astype(x.dtype)


# --- tolerances: THE one place ----------------------------------------------------------
#
# The two forms compute the same formula in different orders (NumPy/BLAS blocks and
# vectorizes its sums its own way; the loop form sums in index order, vectorized
# under `reassoc`, with fused multiply-adds under `contract`), and call different
# exp/tanh implementations.  So they agree to rounding error, not bitwise, and the
# allowed difference is counted in units of the dtype's machine epsilon
# u = 2**-23 (float32) or 2**-52 (float64):
#
#   ELEMENT_ULPS = 16: one element of an elementwise expression.  exp, log1p and tanh
#       are within ~1 ulp in both libraries; sigmoid, σ(1−σ)·dy, (1 − tanh²)·dy and
#       softmax chain 3-5 such roundings, and 1 − tanh² (or 1 − σ) turns a 1-ulp
#       difference of tanh near ±1 into 2 ulps of 1, times |dy|, which is up to ~4.5
#       for the N(0, 1) data used here.  Measured worst case: 5 ulps (tanh_backward).
#   SUM_ULPS = 4 per term of a k-term sum.  A recursive k-term sum is within
#       (k−1)·u·Σ|terms| of exact (Higham, Accuracy and Stability of Numerical
#       Algorithms, eq. 4.4); with O(1) terms of random sign the errors add like a
#       random walk to about u·k·|term|/5, so 4·u·k is ~20 standard deviations, far
#       from flaky, while a wrong index or a missing term is off by O(1).  Measured
#       worst case: 1.5·u·k (dense_backward_input, float32).
#
# rtol = atol = (ELEMENT_ULPS + SUM_ULPS·k)·u.  atol is the same number times
# `scale`, the magnitude of one term of the sums (1 for the N(0, 1) data of these
# tests): it is what the comparison needs where a sum cancels to nearly 0 and a
# relative tolerance means nothing.  Never raise these to make a test pass: a
# failure beyond them is a bug or an unstable formula until shown otherwise.
ELEMENT_ULPS = 16
SUM_ULPS = 4


def eps(dtype):
    return float(np.finfo(dtype).eps)


def tolerance(dtype, k=1, scale=1.0):
    """(rtol, atol) for comparing results of a ``k``-term reduction in ``dtype``."""
    rtol = (ELEMENT_ULPS + SUM_ULPS * k) * eps(dtype)
    return rtol, rtol * scale


def assert_forms_close(actual, expected, dtype, k=1, scale=1.0):
    """Assert that ``actual`` (an array or numpy scalar) has ``dtype`` and agrees with
    ``expected`` within :func:`tolerance`.  ``k`` is the length of the longest sum
    behind one value (1 for elementwise results)."""
    actual_dtype = actual.dtype if isinstance(actual, (np.ndarray, np.generic)) else type(actual)
    assert actual_dtype == np.dtype(dtype), f"result has dtype {actual_dtype}, expected {np.dtype(dtype)}"
    expected = np.asarray(expected)
    assert np.shape(actual) == expected.shape, f"shape {np.shape(actual)} != {expected.shape}"
    rtol, atol = tolerance(dtype, k, scale)
    np.testing.assert_allclose(actual, expected.astype(np.float64), rtol=rtol, atol=atol)


def assert_agree(pair, reference, dtype, k=1, scale=1.0):
    """The loop and matrix results of ``pair`` agree with each other and with a float64
    ``reference`` computed in the test (so that the forms cannot be wrong together)."""
    loop_result, matrix_result = pair
    assert_forms_close(loop_result, matrix_result, dtype, k, scale)
    assert_forms_close(loop_result, reference, dtype, k, scale)
    assert_forms_close(matrix_result, reference, dtype, k, scale)


def f64(*arrays):
    """float64 copies, for references computed in the tests."""
    out = tuple(np.asarray(a, dtype=np.float64) for a in arrays)
    return out if len(out) > 1 else out[0]


def assert_bitwise_equal(a, b):
    """Same dtype, shape and bytes (NaNs included)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), f"differ at {np.flatnonzero(a.ravel() != b.ravel())[:10]}"


def assert_writes_into_out(func, *args, shape, dtype, pick=lambda result: result):
    """``func(*args, out=buf)`` fills ``buf`` (pre-filled with NaN) and returns it
    (``pick`` finds it in the result), with the very bytes that ``func(*args)``
    returns in a buffer of its own.  Returns both results."""
    out = np.full(shape, np.nan, dtype)
    result = func(*args, out=out)
    assert pick(result) is out, "the out buffer was not returned"
    fresh = func(*args)
    assert_bitwise_equal(out, pick(fresh))
    return result, fresh


# --- finite differences -------------------------------------------------------------------
#
# Central differences in float64: f'(x) ≈ (f(x + h) − f(x − h)) / 2h.  The truncation
# error is h²/6·|f'''| ≈ 2e-11 for h = 1e-5 and the smooth O(1) functions tested here;
# the rounding error is about u·|f|/h ≈ 1e-16·|f|/1e-5 = 1e-11·|f| (|f| ≤ ~50 in these
# tests).  The tolerances below leave two orders of magnitude above both, and stay
# six orders of magnitude below what a real bug does (a wrong factor or sign is O(1),
# a missing 1/N is 1/N).
FD_STEP = 1e-5
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def numerical_gradient(f, a, h=FD_STEP):
    """dE/da of the scalar ``f()`` by central differences, perturbing ``a`` in place
    (and restoring it)."""
    grad = np.empty(a.shape)
    flat, g = a.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, a), "a must be contiguous so that it can be perturbed in place"
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + h
        plus = float(f())
        flat[k] = old - h
        minus = float(f())
        flat[k] = old
        g[k] = (plus - minus) / (2 * h)
    return grad


def assert_gradient(analytic, f, a, name=""):
    """Assert the analytic gradient of ``f`` with respect to array ``a``."""
    assert np.asarray(analytic).dtype == np.float64
    numeric = numerical_gradient(f, a)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)
    # a test that can fail: the gradient is not trivially zero
    assert np.max(np.abs(numeric)) > 100 * FD_ATOL, f"{name}: gradient is ~0, the check proves nothing"


# --- bad inputs ------------------------------------------------------------------------------


def _arrays_in(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _arrays_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays_in(item)


def snapshot(*args):
    """Copies of every array in ``args`` (nested in tuples, lists, dicts)."""
    return [(a, a.copy()) for a in _arrays_in(args)]


def assert_unchanged(snap):
    """Every array of a :func:`snapshot` holds the same bytes (NaN compares equal)."""
    for a, before in snap:
        assert a.tobytes() == before.tobytes(), "an argument was modified by a rejected call"


def assert_rejects(name, make_args, exc, fragment):
    """Both forms' ``name`` refuse the arguments ``make_args()`` builds.

    ``make_args`` returns ``(args, kwargs)`` and is called once per form, so each form
    gets fresh arrays.  Asserts: the exception type, the message (it contains the
    literal text ``fragment``),
    the same message from both forms, and that no array argument (inputs, ``out``
    buffers, ``w`` and ``b``) was modified.
    """
    messages = []
    for form_name, module in FORMS.items():
        args, kwargs = make_args()
        snap = snapshot(args, kwargs)
        assert snap, "nothing to check for modification"
        with pytest.raises(exc, match=re.escape(fragment)) as info:
            getattr(module, name)(*args, **kwargs)
        assert type(info.value) is exc, f"{form_name}: {type(info.value).__name__} is not {exc.__name__}"
        assert_unchanged(snap)
        messages.append(str(info.value))
    assert messages[0] == messages[1], f"the forms' messages differ: {messages}"


# --- calling both forms ---------------------------------------------------------------------


def call_both(name, *args, **kwargs):
    """``(loops.name(...), matrix.name(...))``, each on its own copies of the arrays."""
    results = []
    for module in FORMS.values():
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        results.append(getattr(module, name)(*a, **kwargs))
    return tuple(results)


# --- a network assembled from the kernels --------------------------------------------------------

ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh")


def mlp_loss_and_grads(form, params, acts, x, target, loss, reduction="mean"):
    """Forward and backward through Dense, act, Dense, act, ..., Dense and a loss, with
    nothing but ``form``'s public kernels (the chain rule done by hand).

    Parameters
    ----------
    params : list of (w, b)
    acts : list of activation names, one fewer than ``params`` (or None for none)
    loss : "softmax_cross_entropy", "mse" or "half_sse"

    Returns
    -------
    loss : numpy scalar
    grads : list of (dw, db), one per layer
    dx : gradient with respect to ``x``
    """
    inputs, pre = [], []
    a = x
    for layer, (w, b) in enumerate(params):
        inputs.append(a)
        a = form.dense_forward(a, w, b)
        if layer < len(params) - 1 and acts and acts[layer]:
            pre.append(a)
            a = getattr(form, acts[layer])(a)
        else:
            pre.append(None)
    if loss == "half_sse":
        value, d = form.half_sse(a, target)
    else:
        value, d = getattr(form, loss)(a, target, reduction)
    grads = [None] * len(params)
    for layer in reversed(range(len(params))):
        if pre[layer] is not None:
            d = getattr(form, acts[layer] + "_backward")(pre[layer], d)
        w = params[layer][0]
        grads[layer] = form.dense_backward_params(inputs[layer], d)
        d = form.dense_backward_input(d, w)
    return value, grads, d
