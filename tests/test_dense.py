"""Dense layer: loop form vs matrix form vs a float64 reference, by hand, out= buffers."""

import numpy as np
import pytest

from conftest import (DENSE_PARALLEL_SHAPES, DENSE_SHAPES, FORMS, assert_agree,
                      assert_bitwise_equal, assert_forms_close, assert_writes_into_out, call_both, data, f64, shape_id)
from fastnn import _config

LR = 0.1


def dense_data(shape, dtype, seed=0):
    n, n_in, n_out = shape
    return (data((n, n_in), dtype, seed), data((n_in, n_out), dtype, seed + 1),
            data((n_out,), dtype, seed + 2), data((n, n_out), dtype, seed + 3))


def test_shapes_cross_the_parallel_threshold_exactly_where_intended():
    for shape in DENSE_SHAPES:
        crosses = np.prod(shape) >= _config.PARALLEL_MIN_FLOPS and min(shape[:2]) > _config.ROW_BLOCK
        assert crosses == (shape in DENSE_PARALLEL_SHAPES), shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_reach_both_splits_of_the_input_gradient(dtype):
    # dx = dy.wᵀ: C is n x n_in, the sum over n_out, B = wᵀ packed transposed
    from fastnn.loops._gemm import _split

    like = np.empty(1, dtype)
    by_rows = {shape: _split(shape[0], shape[1], shape[2], True, like)[1] for shape in DENSE_PARALLEL_SHAPES}
    assert not by_rows[(64, 300, 128)]
    assert by_rows[(520, 400, 8)]


# --- both forms agree, and agree with float64 ------------------------------------------


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=shape_id)
def test_forward(shape, dtype):
    x, w, b, _ = dense_data(shape, dtype)
    reference = f64(x) @ f64(w) + f64(b)
    assert_agree(call_both("dense_forward", x, w, b), reference, dtype, k=shape[1] + 1)


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=shape_id)
def test_backward_input(shape, dtype):
    _, w, _, dy = dense_data(shape, dtype)
    reference = np.einsum("ij,nj->ni", f64(w), f64(dy))
    assert_agree(call_both("dense_backward_input", dy, w), reference, dtype, k=shape[2])


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=shape_id)
def test_backward_params(shape, dtype):
    x, _, _, dy = dense_data(shape, dtype)
    (dw_l, db_l), (dw_m, db_m) = call_both("dense_backward_params", x, dy)
    assert_agree((dw_l, dw_m), np.einsum("ni,nj->ij", f64(x), f64(dy)), dtype, k=shape[0])
    assert_agree((db_l, db_m), f64(dy).sum(axis=0), dtype, k=shape[0])


@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=shape_id)
def test_sgd_update(shape, dtype):
    x, w, b, dy = dense_data(shape, dtype)
    updated = []
    for module in FORMS.values():
        w1, b1 = w.copy(), b.copy()
        assert module.dense_sgd_update(x, dy, w1, b1, LR) is None
        updated.append((w1, b1))
    (w_l, b_l), (w_m, b_m) = updated
    w_ref = f64(w) - LR * (f64(x).T @ f64(dy))
    b_ref = f64(b) - LR * f64(dy).sum(axis=0)
    assert_agree((w_l, w_m), w_ref, dtype, k=shape[0])
    assert_agree((b_l, b_m), b_ref, dtype, k=shape[0])
    # the step is not negligible, so the comparison above says something
    assert np.max(np.abs(w_ref - w)) > 1e-2


# --- by hand ------------------------------------------------------------------------------


def test_by_hand(form, dtype):
    # two samples, 2 inputs -> 2 outputs
    x = np.array([[1.0, 2.0],
                  [-1.0, 0.5]], dtype)
    w = np.array([[1.0, 2.0],     # w[0, :]: from input 0 to outputs 0 and 1
                  [3.0, 4.0]], dtype)  # w[1, :]: from input 1
    b = np.array([0.5, -1.0], dtype)
    # y[0, 0] = 1*1 + 2*3 + 0.5 = 7.5        y[0, 1] = 1*2 + 2*4 - 1 = 9
    # y[1, 0] = -1*1 + 0.5*3 + 0.5 = 1       y[1, 1] = -1*2 + 0.5*4 - 1 = -1
    assert_forms_close(form.dense_forward(x, w, b), [[7.5, 9.0], [1.0, -1.0]], dtype)

    dy = np.array([[1.0, -1.0],
                   [2.0, 0.5]], dtype)
    # dx[n, i] = Σ_j w[i, j] dy[n, j]
    # dx[0] = [1*1 + 2*(-1), 3*1 + 4*(-1)] = [-1, -1]
    # dx[1] = [1*2 + 2*0.5,  3*2 + 4*0.5]  = [3, 8]
    assert_forms_close(form.dense_backward_input(dy, w), [[-1.0, -1.0], [3.0, 8.0]], dtype)

    # dw[i, j] = Σ_n x[n, i] dy[n, j]
    # dw[0, 0] = 1*1 + (-1)*2 = -1      dw[0, 1] = 1*(-1) + (-1)*0.5 = -1.5
    # dw[1, 0] = 2*1 + 0.5*2 = 3        dw[1, 1] = 2*(-1) + 0.5*0.5  = -1.75
    # db[j] = Σ_n dy[n, j] = [1 + 2, -1 + 0.5] = [3, -0.5]
    dw, db = form.dense_backward_params(x, dy)
    assert_forms_close(dw, [[-1.0, -1.5], [3.0, -1.75]], dtype)
    assert_forms_close(db, [3.0, -0.5], dtype)

    # w - 0.5 * dw = [[1.5, 2.75], [1.5, 4.875]],  b - 0.5 * db = [-1, -0.75]
    form.dense_sgd_update(x, dy, w, b, 0.5)
    assert_forms_close(w, [[1.5, 2.75], [1.5, 4.875]], dtype)
    assert_forms_close(b, [-1.0, -0.75], dtype)


# --- out= buffers, dtypes, layouts -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3, 4), DENSE_PARALLEL_SHAPES[-1]], ids=shape_id)
def test_out_buffers_are_filled_and_returned(form, dtype, shape):
    x, w, b, dy = dense_data(shape, dtype)
    n, n_in, n_out = shape

    assert_writes_into_out(form.dense_forward, x, w, b, shape=(n, n_out), dtype=dtype)
    assert_writes_into_out(form.dense_backward_input, dy, w, shape=(n, n_in), dtype=dtype)

    dw, db = np.full((n_in, n_out), np.nan, dtype), np.full(n_out, np.nan, dtype)
    result = form.dense_backward_params(x, dy, out=(dw, db))
    assert result[0] is dw and result[1] is db
    for got, fresh in zip((dw, db), form.dense_backward_params(x, dy)):
        assert_bitwise_equal(got, fresh)


def test_results_keep_the_input_dtype(form, dtype):
    x, w, b, dy = dense_data((3, 4, 2), dtype)
    outputs = [form.dense_forward(x, w, b), form.dense_backward_input(dy, w),
               *form.dense_backward_params(x, dy)]
    assert [a.dtype for a in outputs] == [np.dtype(dtype)] * 4
    w1, b1 = w.copy(), b.copy()
    form.dense_sgd_update(x, dy, w1, b1, np.float64(0.25))
    assert w1.dtype == b1.dtype == np.dtype(dtype)


def test_non_contiguous_inputs_give_the_contiguous_result(form, dtype):
    x, w, b, dy = dense_data((6, 5, 3), dtype)
    x_strided = np.repeat(x, 2, axis=1)[:, ::2]      # a view with a column stride of 2
    w_fortran = np.asfortranarray(w)
    b_strided = np.repeat(b, 2)[::2]
    dy_fortran = np.asfortranarray(dy)
    assert not (x_strided.flags.c_contiguous or w_fortran.flags.c_contiguous
                or b_strided.flags.c_contiguous or dy_fortran.flags.c_contiguous)
    assert_bitwise_equal(form.dense_forward(x_strided, w_fortran, b_strided), form.dense_forward(x, w, b))
    assert_bitwise_equal(form.dense_backward_input(dy_fortran, w_fortran), form.dense_backward_input(dy, w))
    for got, want in zip(form.dense_backward_params(x_strided, dy_fortran), form.dense_backward_params(x, dy)):
        assert_bitwise_equal(got, want)


def test_sgd_update_with_zero_lr_changes_nothing_and_never_touches_x_dy(form, dtype):
    x, w, b, dy = dense_data((7, 5, 3), dtype)
    x0, w0, b0, dy0 = x.copy(), w.copy(), b.copy(), dy.copy()
    form.dense_sgd_update(x, dy, w, b, 0.0)
    for a, a0 in ((x, x0), (w, w0), (b, b0), (dy, dy0)):
        assert_bitwise_equal(a, a0)
    form.dense_sgd_update(x, dy, w, b, 1.0)
    assert not np.array_equal(w, w0) and not np.array_equal(b, b0)
    assert_bitwise_equal(x, x0)
    assert_bitwise_equal(dy, dy0)


def test_check_finite_false_skips_the_nan_check(form, dtype):
    x, w, b, _ = dense_data((4, 3, 2), dtype)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(nan\) at index \(2, 1\)"):
        form.dense_forward(x, w, b)
    y = form.dense_forward(x, w, b, check_finite=False)
    assert np.isnan(y[2]).all()  # the NaN reaches every output of its sample ...
    clean = np.delete(x, 2, axis=0)
    assert_forms_close(np.delete(y, 2, axis=0), form.dense_forward(clean, w, b), dtype, k=4)  # ... and no other
