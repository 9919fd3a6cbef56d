"""Bad input: both forms raise the same error with the same clear message, and modify nothing.

Every case builds fresh arguments per form (``out`` buffers pre-filled with a sentinel)
and :func:`conftest.assert_rejects` checks the exception type, the message, that the
two forms' messages are identical, and that no array argument changed.
"""

import numpy as np
import pytest

from conftest import ACTIVATIONS, assert_rejects, data, read_only
from fastnn import _checks

F64, F32 = np.float64, np.float32
N, N_IN, N_OUT = 3, 4, 2


def arr(shape, dtype=F64, seed=0):
    return data(shape, dtype, seed)


def with_value(a, index, value):
    a = a.copy()
    a[index] = value
    return a


def fortran(a):
    return np.asfortranarray(a)


def sentinel(shape, dtype=F64):
    return np.full(shape, 7.0, dtype)


def overlapping(shape_a, shape_b, offset, dtype=F64):
    """Two C-contiguous arrays carved from one buffer; ``b`` starts ``offset`` elements in."""
    base = data(int(np.prod(shape_a)) + int(np.prod(shape_b)) + offset, dtype, seed=99)
    a = base[:int(np.prod(shape_a))].reshape(shape_a)
    b = base[offset:offset + int(np.prod(shape_b))].reshape(shape_b)
    return a, b


def strided_overlapping(x_cols=N_IN, out_cols=N_OUT):
    """x (N, x_cols) as a strided view whose memory a contiguous (N, out_cols) out
    shares.  Their elements interleave, so the overlap must be seen even though
    fastnn computes from a contiguous copy of x (it once was not: x was overwritten)."""
    base = data(N * x_cols * 2, F64, seed=98)
    x = base.reshape(N, 2 * x_cols)[:, ::2]
    out = base[1:1 + N * out_cols].reshape(N, out_cols)
    return x, out


# --- argument builders: each returns (args, kwargs) with fresh arrays -------------------------------


def dense(x=None, w=None, b=None, **kw):
    x = arr((N, N_IN), seed=1) if x is None else x
    w = arr((N_IN, N_OUT), seed=2) if w is None else w
    b = arr((N_OUT,), seed=3) if b is None else b
    return (x, w, b), kw


def backward_input(dy=None, w=None, **kw):
    dy = arr((N, N_OUT), seed=4) if dy is None else dy
    w = arr((N_IN, N_OUT), seed=2) if w is None else w
    return (dy, w), kw


def params(x=None, dy=None, **kw):
    x = arr((N, N_IN), seed=1) if x is None else x
    dy = arr((N, N_OUT), seed=4) if dy is None else dy
    return (x, dy), kw


def sgd(x=None, dy=None, w=None, b=None, lr=0.1, **kw):
    x = arr((N, N_IN), seed=1) if x is None else x
    dy = arr((N, N_OUT), seed=4) if dy is None else dy
    w = arr((N_IN, N_OUT), seed=2) if w is None else w
    b = arr((N_OUT,), seed=3) if b is None else b
    return (x, dy, w, b, lr), kw


def unary(x=None, **kw):
    return ((arr((N, N_OUT), seed=5) if x is None else x),), kw


def binary(x=None, dy=None, **kw):
    x = arr((N, N_OUT), seed=5) if x is None else x
    dy = arr((N, N_OUT), seed=6) if dy is None else dy
    return (x, dy), kw


def regression(y=None, t=None, *rest, **kw):
    y = arr((N, N_OUT), seed=7) if y is None else y
    t = arr((N, N_OUT), seed=8) if t is None else t
    return (y, t, *rest), kw


def ce(z=None, target=None, *rest, **kw):
    z = arr((N, 3), seed=9) if z is None else z
    target = np.array([0, 2, 1]) if target is None else target
    return (z, target, *rest), kw


def one_hot_rows(rows=((1, 0, 0), (0, 0, 1), (0, 1, 0)), dtype=F64):
    return np.array(rows, dtype)


def call_with(builder, *args, **kwargs):
    return lambda: builder(*args, **kwargs)


def lazy(builder, **factories):
    """Arguments whose arrays are made fresh per call: ``factories`` are zero-argument callables."""
    return lambda: builder(**{k: f() for k, f in factories.items()})


def shared(builder, names, make):
    """``builder`` given the arrays that ``make()`` returns as the arguments ``names``."""
    return lambda: builder(**dict(zip(names, make())))


def overlap_case(builder, names, shapes):
    """``builder`` with two of its arrays (``names``) carved overlapping from one buffer."""
    return shared(builder, names, lambda: overlapping(shapes[0], shapes[1], offset=1))


def same_array(builder, names, make):
    """``builder`` given one array ``make()`` as every argument in ``names`` (e.g. out=x)."""
    return shared(builder, names, lambda: (make(),) * len(names))


# --- the cases: (function, arguments, exception, message fragment) ---------------------------------------

CASES = [
    # dense_forward: types and dtypes
    ("dense_forward", lazy(dense, x=lambda: arr((N, N_IN)).tolist()), TypeError,
     "x must be a numpy.ndarray of shape (n, n_in), got list"),
    ("dense_forward", lazy(dense, w=lambda: np.ones((N_IN, N_OUT), np.int64)), TypeError,
     "w must have dtype float32 or float64, got int64"),
    ("dense_forward", lazy(dense, x=lambda: np.ones((N, N_IN), np.int32)), TypeError,
     "x must have dtype float32 or float64, got int32"),
    ("dense_forward", lazy(dense, x=lambda: arr((N, N_IN), F32)), TypeError,
     "x has dtype float32 but w has dtype float64: mixed dtypes are not supported"),
    ("dense_forward", lazy(dense, b=lambda: arr((N_OUT,), F32)), TypeError,
     "b has dtype float32 but w has dtype float64"),
    ("dense_forward", lazy(dense, x=lambda: arr((N, N_IN), np.float16)), TypeError,
     "x must have dtype float32 or float64, got float16"),
    # ndim and shapes
    ("dense_forward", lazy(dense, x=lambda: arr((N_IN,))), ValueError,
     "x must be 2-D with shape (n, n_in), got shape (4,)"),
    ("dense_forward", lazy(dense, w=lambda: arr((1, N_IN, N_OUT))), ValueError,
     "w must be 2-D with shape (n_in, n_out), got shape (1, 4, 2)"),
    ("dense_forward", lazy(dense, b=lambda: arr((N_OUT, 1))), ValueError,
     "b must be 1-D with shape (n_out,), got shape (2, 1)"),
    ("dense_forward", lazy(dense, x=lambda: arr((N, N_IN + 1))), ValueError,
     "x must have shape (n, n_in) with n_in = 4 (w.shape[0]), got (3, 5)"),
    ("dense_forward", lazy(dense, b=lambda: arr((N_OUT + 1,))), ValueError,
     "b must have shape (n_out,) = (2,), got (3,)"),
    ("dense_forward", lazy(dense, x=lambda: arr((0, N_IN))), ValueError,
     "x is empty (shape (0, 4)); an empty batch cannot be processed"),
    ("dense_forward", lazy(dense, w=lambda: arr((N_IN, 0)), b=lambda: arr((0,))), ValueError,
     "w is empty (shape (4, 0))"),
    # non-finite values
    ("dense_forward", lazy(dense, x=lambda: with_value(arr((N, N_IN)), (2, 3), np.nan)), ValueError,
     "x contains a non-finite value (nan) at index (2, 3)"),
    ("dense_forward", lazy(dense, w=lambda: with_value(arr((N_IN, N_OUT)), (1, 1), np.inf)), ValueError,
     "w contains a non-finite value (inf) at index (1, 1)"),
    ("dense_forward", lazy(dense, b=lambda: with_value(arr((N_OUT,)), 1, -np.inf)), ValueError,
     "b contains a non-finite value (-inf) at index (1,)"),
    ("dense_forward", lazy(dense, x=lambda: with_value(arr((N, N_IN), F32), (1, 0), np.nan),
                           w=lambda: arr((N_IN, N_OUT), F32), b=lambda: arr((N_OUT,), F32)), ValueError,
     "x contains a non-finite value (nan) at index (1, 0)"),
    # out buffers
    ("dense_forward", lazy(dense, out=lambda: sentinel((N_OUT, N))), ValueError,
     "out must have shape (n, n_out) = (3, 2), got (2, 3)"),
    ("dense_forward", lazy(dense, out=lambda: sentinel((N, N_OUT), F32)), TypeError,
     "out must have dtype float64, got float32"),
    ("dense_forward", lazy(dense, out=lambda: sentinel((N, N_OUT)).tolist()), TypeError,
     "out must be a numpy.ndarray or None, got list"),
    ("dense_forward", lazy(dense, out=lambda: read_only(sentinel((N, N_OUT)))), ValueError,
     "out (n, n_out) is read-only and cannot be updated in place"),
    ("dense_forward", lazy(dense, out=lambda: fortran(sentinel((N, N_OUT)))), ValueError,
     "out (n, n_out) must be C-contiguous to be updated in place"),
    ("dense_forward", overlap_case(dense, ("x", "out"), ((N, N_IN), (N, N_OUT))), ValueError,
     "out overlaps an input array; pass a separate buffer"),
    ("dense_forward", overlap_case(dense, ("w", "out"), ((N_IN, N_OUT), (N, N_OUT))), ValueError,
     "out overlaps an input array"),
    ("dense_forward", shared(dense, ("x", "out"), strided_overlapping), ValueError,
     "out overlaps an input array"),

    # dense_backward_input
    ("dense_backward_input", lazy(backward_input, dy=lambda: arr((N, N_OUT + 1))), ValueError,
     "dy must have shape (n, n_out) with n_out = 2 (w.shape[1]), got (3, 3)"),
    ("dense_backward_input", lazy(backward_input, dy=lambda: arr((N, N_OUT), F32)), TypeError,
     "dy has dtype float32 but w has dtype float64"),
    ("dense_backward_input", lazy(backward_input, dy=lambda: with_value(arr((N, N_OUT)), (0, 1), np.nan)),
     ValueError, "dy contains a non-finite value (nan) at index (0, 1)"),
    ("dense_backward_input", lazy(backward_input, w=lambda: with_value(arr((N_IN, N_OUT)), (3, 0), -np.inf)),
     ValueError, "w contains a non-finite value (-inf) at index (3, 0)"),
    ("dense_backward_input", lazy(backward_input, dy=lambda: arr((0, N_OUT))), ValueError, "dy is empty"),
    ("dense_backward_input", lazy(backward_input, dy=lambda: [[1.0, 2.0]]), TypeError,
     "dy must be a numpy.ndarray of shape (n, n_out), got list"),
    ("dense_backward_input", lazy(backward_input, out=lambda: sentinel((N, N_OUT))), ValueError,
     "out must have shape (n, n_in) = (3, 4), got (3, 2)"),
    ("dense_backward_input", overlap_case(backward_input, ("dy", "out"), ((N, N_OUT), (N, N_IN))), ValueError,
     "out overlaps an input array"),

    # dense_backward_params
    ("dense_backward_params", lazy(params, dy=lambda: arr((N + 1, N_OUT))), ValueError,
     "x and dy must hold the same number of samples n, got x (3, 4) and dy (4, 2)"),
    ("dense_backward_params", lazy(params, dy=lambda: arr((N, N_OUT), F32)), TypeError,
     "dy has dtype float32 but x has dtype float64"),
    ("dense_backward_params", lazy(params, x=lambda: with_value(arr((N, N_IN)), (0, 0), np.inf)), ValueError,
     "x contains a non-finite value (inf) at index (0, 0)"),
    ("dense_backward_params", lazy(params, dy=lambda: with_value(arr((N, N_OUT)), (2, 1), np.nan)), ValueError,
     "dy contains a non-finite value (nan) at index (2, 1)"),
    ("dense_backward_params", lazy(params, x=lambda: arr((0, N_IN)), dy=lambda: arr((0, N_OUT))), ValueError,
     "x is empty"),
    ("dense_backward_params", lazy(params, out=lambda: sentinel((N_IN, N_OUT))), TypeError,
     "out must be None or a tuple (dw, db) of arrays"),
    ("dense_backward_params", lazy(params, out=lambda: (sentinel((N_IN, N_OUT)), sentinel(N_OUT), sentinel(1))),
     TypeError, "out must be None or a tuple (dw, db) of arrays"),
    ("dense_backward_params", lazy(params, out=lambda: (sentinel((N_OUT, N_IN)), sentinel(N_OUT))), ValueError,
     "out[0] (dw) must have shape (n_in, n_out) = (4, 2), got (2, 4)"),
    ("dense_backward_params", lazy(params, out=lambda: (sentinel((N_IN, N_OUT)), sentinel(N_OUT, F32))),
     TypeError, "out[1] (db) must have dtype float64, got float32"),
    ("dense_backward_params", lambda: params(out=overlapping((N_IN, N_OUT), (N_OUT,), offset=3)), ValueError,
     "out[1] (db) overlaps an input array"),
    ("dense_backward_params", shared(params, ("x", "out"), lambda: (
        lambda x, dw: (x, (dw, sentinel(N_OUT))))(*overlapping((N, N_IN), (N_IN, N_OUT), offset=2))),
     ValueError, "out[0] (dw) overlaps an input array"),

    # dense_sgd_update
    ("dense_sgd_update", lazy(sgd, w=lambda: read_only(arr((N_IN, N_OUT)))), ValueError,
     "w (n_in, n_out) is read-only and cannot be updated in place"),
    ("dense_sgd_update", lazy(sgd, b=lambda: read_only(arr((N_OUT,)))), ValueError,
     "b (n_out,) is read-only and cannot be updated in place"),
    ("dense_sgd_update", lazy(sgd, w=lambda: fortran(arr((N_IN, N_OUT)))), ValueError,
     "w (n_in, n_out) must be C-contiguous to be updated in place"),
    ("dense_sgd_update", lazy(sgd, w=lambda: arr((N_IN, 2 * N_OUT))[:, ::2]), ValueError,
     "w (n_in, n_out) must be C-contiguous to be updated in place"),
    ("dense_sgd_update", lazy(sgd, b=lambda: arr((2 * N_OUT,))[::2]), ValueError,
     "b (n_out,) must be C-contiguous to be updated in place"),
    ("dense_sgd_update", lazy(sgd, w=lambda: arr((N_IN, N_OUT)).tolist()), TypeError,
     "w and b must be numpy.ndarray objects to be updated in place"),
    ("dense_sgd_update", lazy(sgd, w=lambda: arr((N_IN, N_OUT), F32)), TypeError,
     "w has dtype float32 but x has dtype float64: mixed dtypes are not supported"),
    ("dense_sgd_update", lazy(sgd, b=lambda: np.zeros(N_OUT, np.int64)), TypeError,
     "b has dtype int64 but x has dtype float64"),
    ("dense_sgd_update", lazy(sgd, w=lambda: arr((N_OUT, N_IN))), ValueError,
     "w must have shape (n_in, n_out) = (4, 2), got (2, 4)"),
    ("dense_sgd_update", lazy(sgd, b=lambda: arr((1, N_OUT))), ValueError,
     "b must be 1-D with shape (n_out,), got shape (1, 2)"),
    ("dense_sgd_update", lazy(sgd, x=lambda: with_value(arr((N, N_IN)), (1, 2), np.nan)), ValueError,
     "x contains a non-finite value (nan) at index (1, 2)"),
    ("dense_sgd_update", lazy(sgd, dy=lambda: with_value(arr((N, N_OUT)), (2, 0), np.inf)), ValueError,
     "dy contains a non-finite value (inf) at index (2, 0)"),
    ("dense_sgd_update", lazy(sgd, w=lambda: with_value(arr((N_IN, N_OUT)), (3, 1), np.nan)), ValueError,
     "w contains a non-finite value (nan) at index (3, 1)"),
    ("dense_sgd_update", lazy(sgd, b=lambda: with_value(arr((N_OUT,)), 0, np.inf)), ValueError,
     "b contains a non-finite value (inf) at index (0,)"),
    ("dense_sgd_update", lazy(sgd, x=lambda: arr((0, N_IN)), dy=lambda: arr((0, N_OUT))), ValueError,
     "x is empty"),
    ("dense_sgd_update", lazy(sgd, dy=lambda: arr((N - 1, N_OUT))), ValueError,
     "x and dy must hold the same number of samples n"),
    ("dense_sgd_update", overlap_case(sgd, ("w", "b"), ((N_IN, N_OUT), (N_OUT,))),
     ValueError, "w and b must not overlap each other, x or dy"),
    ("dense_sgd_update", overlap_case(sgd, ("x", "w"), ((N, N_IN), (N_IN, N_OUT))),
     ValueError, "w and b must not overlap each other, x or dy"),
    ("dense_sgd_update", shared(sgd, ("dy", "b"), lambda: (lambda dy: (dy, dy[0]))(arr((N, N_OUT)))),
     ValueError, "w and b must not overlap each other, x or dy"),
    ("dense_sgd_update", lambda: sgd(lr=float("nan")), ValueError, "lr must be finite, got nan"),
    ("dense_sgd_update", lambda: sgd(lr=float("inf")), ValueError, "lr must be finite, got inf"),
    ("dense_sgd_update", lambda: sgd(lr=np.float64(-np.inf)), ValueError, "lr must be finite, got -inf"),
    ("dense_sgd_update", lambda: sgd(lr="0.1"), TypeError, "lr must be a real number, got str"),
    ("dense_sgd_update", lambda: sgd(lr=True), TypeError, "lr must be a real number, got bool"),
    ("dense_sgd_update", lambda: sgd(lr=None), TypeError, "lr must be a real number, got NoneType"),
    # finite in float64 but not in float32: would turn every weight into inf
    ("dense_sgd_update", lambda: sgd(arr((N, N_IN), F32), arr((N, N_OUT), F32), arr((N_IN, N_OUT), F32),
                                     arr((N_OUT,), F32), lr=1e39), ValueError,
     "lr must be finite in float32, got 1e+39"),
]

# elementwise and row-wise kernels: every one, the same cases
for _name in ACTIVATIONS + ("softmax",):
    CASES += [
        (_name, lazy(unary, x=lambda: [[1.0, 2.0]], out=lambda: sentinel((1, 2))), TypeError,
         "x must be a numpy.ndarray of shape (n, k), got list"),
        (_name, lazy(unary, x=lambda: np.ones((N, N_OUT), np.int64)), TypeError,
         "x must have dtype float32 or float64, got int64"),
        (_name, lazy(unary, x=lambda: arr((N_OUT,))), ValueError, "x must be 2-D with shape (n, k), got shape (2,)"),
        (_name, lazy(unary, x=lambda: arr((1, N, N_OUT))), ValueError, "x must be 2-D"),
        (_name, lazy(unary, x=lambda: arr((0, N_OUT))), ValueError, "x is empty (shape (0, 2))"),
        (_name, lazy(unary, x=lambda: with_value(arr((N, N_OUT)), (2, 1), np.nan)), ValueError,
         "x contains a non-finite value (nan) at index (2, 1)"),
        (_name, lazy(unary, x=lambda: with_value(arr((N, N_OUT), F32), (1, 1), -np.inf)), ValueError,
         "x contains a non-finite value (-inf) at index (1, 1)"),
        (_name, lazy(unary, out=lambda: sentinel((N_OUT, N))), ValueError,
         "out must have shape (n, k) = (3, 2), got (2, 3)"),
        (_name, lazy(unary, out=lambda: sentinel((N, N_OUT), F32)), TypeError,
         "out must have dtype float64, got float32"),
        (_name, lazy(unary, out=lambda: read_only(sentinel((N, N_OUT)))), ValueError, "out (n, k) is read-only"),
        (_name, same_array(unary, ("x", "out"), lambda: arr((N, N_OUT))), ValueError,
         "out overlaps an input array"),
        (_name, shared(unary, ("x", "out"), lambda: strided_overlapping(N_OUT, N_OUT)), ValueError,
         "out overlaps an input array"),
    ]
for _name in ACTIVATIONS:
    CASES += [
        (_name + "_backward", lazy(binary, dy=lambda: arr((N, N_OUT + 1))), ValueError,
         "dy must have shape (n, k) like x = (3, 2), got (3, 3)"),
        (_name + "_backward", lazy(binary, dy=lambda: arr((N, N_OUT), F32)), TypeError,
         "dy has dtype float32 but x has dtype float64"),
        (_name + "_backward", lazy(binary, x=lambda: arr((N, N_OUT), F32)), TypeError,
         "dy has dtype float64 but x has dtype float32"),
        (_name + "_backward", lazy(binary, dy=lambda: with_value(arr((N, N_OUT)), (0, 0), np.inf)), ValueError,
         "dy contains a non-finite value (inf) at index (0, 0)"),
        (_name + "_backward", lazy(binary, x=lambda: with_value(arr((N, N_OUT)), (1, 1), np.nan)), ValueError,
         "x contains a non-finite value (nan) at index (1, 1)"),
        (_name + "_backward", lazy(binary, dy=lambda: np.ones((N, N_OUT), np.int8)), TypeError,
         "dy must have dtype float32 or float64, got int8"),
        (_name + "_backward", same_array(binary, ("dy", "out"), lambda: arr((N, N_OUT))), ValueError,
         "out overlaps an input array"),
        (_name + "_backward", overlap_case(binary, ("x", "out"), ((N, N_OUT), (N, N_OUT))), ValueError,
         "out overlaps an input array"),
    ]

CASES += [
    # mse and half_sse
    ("mse", lambda: regression(None, None, "avg"), ValueError, "reduction must be 'mean' or 'sum', got 'avg'"),
    ("mse", lambda: regression(None, None, None), ValueError, "reduction must be 'mean' or 'sum', got None"),
    ("mse", lambda: regression(None, None, "Mean"), ValueError, "reduction must be 'mean' or 'sum', got 'Mean'"),
    ("mse", lazy(regression, t=lambda: arr((N, N_OUT + 1))), ValueError,
     "t must have shape (n, k) like y = (3, 2), got (3, 3)"),
    ("mse", lazy(regression, t=lambda: arr((N, N_OUT), F32)), TypeError, "t has dtype float32 but y has dtype float64"),
    ("mse", lazy(regression, y=lambda: np.ones((N, N_OUT), np.int64)), TypeError,
     "y must have dtype float32 or float64, got int64"),
    ("mse", lazy(regression, t=lambda: with_value(arr((N, N_OUT)), (2, 1), np.nan)), ValueError,
     "t contains a non-finite value (nan) at index (2, 1)"),
    ("mse", lazy(regression, y=lambda: with_value(arr((N, N_OUT)), (0, 1), np.inf)), ValueError,
     "y contains a non-finite value (inf) at index (0, 1)"),
    ("mse", lazy(regression, y=lambda: arr((0, N_OUT)), t=lambda: arr((0, N_OUT))), ValueError, "y is empty"),
    ("mse", lazy(regression, y=lambda: arr((N,)), t=lambda: arr((N,))), ValueError,
     "y must be 2-D with shape (n, k), got shape (3,)"),
    ("mse", same_array(regression, ("t", "out"), lambda: arr((N, N_OUT))), ValueError,
     "out overlaps an input array"),
    ("mse", lazy(regression, out=lambda: sentinel((N, N_OUT), F32)), TypeError, "out must have dtype float64"),
    ("half_sse", lazy(regression, t=lambda: arr((N + 1, N_OUT))), ValueError, "t must have shape (n, k) like y"),
    ("half_sse", lazy(regression, t=lambda: with_value(arr((N, N_OUT)), (1, 0), -np.inf)), ValueError,
     "t contains a non-finite value (-inf) at index (1, 0)"),
    ("half_sse", lazy(regression, t=lambda: arr((N, N_OUT)).tolist()), TypeError, "t must be a numpy.ndarray"),
    ("half_sse", lazy(regression, out=lambda: read_only(sentinel((N, N_OUT)))), ValueError, "out (n, k) is read-only"),

    # softmax_cross_entropy: labels
    ("softmax_cross_entropy", lambda: ce(None, np.array([0, 3, 1])), ValueError,
     "target label 3 is out of range for 3 classes (labels must be 0..2)"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([0, -1, 1])), ValueError,
     "target label -1 is out of range for 3 classes"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([0, 1, 2], np.uint8) + np.uint8(250)), ValueError,
     "target label 252 is out of range for 3 classes"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([0.0, 2.0, 1.0])), TypeError,
     "target labels (n,) must have an integer dtype, got float64"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([0.5, 2.0, 1.0], F32)), TypeError,
     "target labels (n,) must have an integer dtype, got float32"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([True, False, True])), TypeError,
     "target labels (n,) must have an integer dtype, got bool"),
    ("softmax_cross_entropy", lambda: ce(None, np.array([0, 1])), ValueError,
     "target must hold one label per sample: expected 3 labels, got 2"),
    ("softmax_cross_entropy", lambda: ce(None, [0, 2, 1]), TypeError,
     "target must be a numpy.ndarray of integer labels (n,) or one-hot rows (n, k), got list"),
    # one-hot targets
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows(((1, 0, 0), (0, 0.5, 0), (0, 1, 0)))), ValueError,
     "target rows must sum to 1 (one-hot or probabilities): row 1 sums to 0.5"),
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows(((1, 0, 0), (0, 0, 1), (0, 1, 1)))), ValueError,
     "row 2 sums to 2.0"),
    ("softmax_cross_entropy", lambda: ce(arr((N, 3), F32), one_hot_rows(((1, 0, 0), (0, 0, 0), (0, 1, 0)), F32)),
     ValueError, "row 1 sums to 0.0"),
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows(((1, 0, 0), (-1, 1, 1), (0, 1, 0)))), ValueError,
     "target rows must be probability distributions (one-hot): a negative entry was found"),
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows(dtype=F32)), TypeError,
     "target has dtype float32 but z has dtype float64"),
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows().astype(np.int64)), TypeError,
     "target must have dtype float32 or float64, got int64"),
    ("softmax_cross_entropy", lambda: ce(None, one_hot_rows()[:, :2].copy()), ValueError,
     "target must have shape (n, k) like z = (3, 3), got (3, 2)"),
    ("softmax_cross_entropy", lambda: ce(None, with_value(one_hot_rows(), (1, 1), np.nan)), ValueError,
     "target contains a non-finite value (nan) at index (1, 1)"),
    ("softmax_cross_entropy", lambda: ce(None, with_value(one_hot_rows(), (0, 0), np.inf)), ValueError,
     "target contains a non-finite value (inf) at index (0, 0)"),
    # logits, reduction, out
    ("softmax_cross_entropy", lambda: ce(with_value(arr((N, 3)), (1, 2), np.nan)), ValueError,
     "z contains a non-finite value (nan) at index (1, 2)"),
    ("softmax_cross_entropy", lambda: ce(np.ones((N, 3), np.int32)), TypeError,
     "z must have dtype float32 or float64, got int32"),
    ("softmax_cross_entropy", lambda: ce(arr((0, 3)), np.zeros(0, np.int64)), ValueError, "z is empty"),
    ("softmax_cross_entropy", lambda: ce(None, None, "none"), ValueError,
     "reduction must be 'mean' or 'sum', got 'none'"),
    ("softmax_cross_entropy", same_array(ce, ("z", "out"), lambda: arr((N, 3))), ValueError,
     "out overlaps an input array"),
    ("softmax_cross_entropy", shared(ce, ("z", "target", "out"), lambda: (lambda z: (z, one_hot_rows(), z))(
        arr((N, 3)))), ValueError, "out overlaps an input array"),
    ("softmax_cross_entropy", same_array(ce, ("target", "out"), one_hot_rows), ValueError,
     "out overlaps an input array"),
    ("softmax_cross_entropy", lambda: ce(out=sentinel((N, 2))), ValueError,
     "out must have shape (n, k) = (3, 3), got (3, 2)"),
]


@pytest.mark.parametrize("name, make_args, exc, fragment", CASES,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(CASES)])
def test_bad_input_is_refused_by_both_forms_and_nothing_changes(name, make_args, exc, fragment):
    assert_rejects(name, make_args, exc, fragment)


def test_finite_names_the_first_bad_position():
    a = np.zeros((3, 4))
    a[2, 0], a[1, 3] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"^a contains a non-finite value \(nan\) at index \(1, 3\)$"):
        _checks.finite(a, "a")
    _checks.finite(np.zeros((3, 4)), "a")  # and accepts finite arrays


def test_contiguous_arrays_are_not_copied():
    a = np.zeros((3, 4))
    assert _checks.float_array(a, "a", "(n, k)") is a
    view = np.zeros((3, 8))[:, ::2]
    copy = _checks.float_array(view, "a", "(n, k)")
    assert copy is not view and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, view)
