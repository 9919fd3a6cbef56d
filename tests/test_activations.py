"""Activation layers and softmax: loop form vs matrix form vs float64, by hand, edge cases."""

import math
import warnings

import numpy as np
import pytest

from conftest import (ACTIVATIONS, ROW_PARALLEL_SHAPES, ROW_SHAPES, assert_agree, assert_bitwise_equal,
                      assert_forms_close, assert_writes_into_out, call_both, data, f64, shape_id)
from fastnn import _config


def sigmoid64(x):
    x = f64(x)
    return np.exp(-np.logaddexp(0, -x))  # 1 / (1 + e^-x) without overflow


REFERENCE = {
    # name: (σ(x), σ'(x)) in float64
    "identity": (lambda x: f64(x), lambda x: np.ones_like(f64(x))),
    "relu": (lambda x: np.maximum(f64(x), 0), lambda x: (f64(x) > 0).astype(np.float64)),
    "sigmoid": (sigmoid64, lambda x: sigmoid64(x) * (1 - sigmoid64(x))),
    "tanh": (lambda x: np.tanh(f64(x)), lambda x: 1 - np.tanh(f64(x)) ** 2),
}


def softmax64(z):
    e = np.exp(f64(z) - f64(z).max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_row_shapes_cross_the_parallel_threshold_exactly_where_intended():
    for shape in ROW_SHAPES:
        crosses = shape[0] * shape[1] >= _config.PARALLEL_MIN_ELEMENTS and shape[0] > _config.ROW_BLOCK
        assert crosses == (shape in ROW_PARALLEL_SHAPES), shape


# --- both forms agree, and agree with float64 --------------------------------------------


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_forward(name, shape, dtype):
    x = data(shape, dtype, seed=1, scale=3.0)  # reaches the saturated tails of sigmoid and tanh
    assert_agree(call_both(name, x), REFERENCE[name][0](x), dtype)


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward(name, shape, dtype):
    x = data(shape, dtype, seed=2, scale=3.0)
    dy = data(shape, dtype, seed=3)
    reference = REFERENCE[name][1](x) * f64(dy)
    assert_agree(call_both(name + "_backward", x, dy), reference, dtype)


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_softmax(shape, dtype):
    z = data(shape, dtype, seed=4, scale=3.0)
    pair = call_both("softmax", z)
    assert_agree(pair, softmax64(z), dtype, k=shape[1])
    for p in pair:
        assert_forms_close(p.sum(axis=1), np.ones(shape[0]), dtype, k=shape[1])


# --- by hand -------------------------------------------------------------------------------------


def test_relu_by_hand(form, dtype):
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]], dtype)
    dy = np.array([[10.0, 20.0, 30.0, 40.0, 50.0]], dtype)
    # max(0, x) = [0, 0, 0, 0.5, 3]
    assert_forms_close(form.relu(x), [[0.0, 0.0, 0.0, 0.5, 3.0]], dtype)
    # σ'(x) = [0, 0, 0 (σ'(0) = 0, not 1), 1, 1], times dy
    assert_forms_close(form.relu_backward(x, dy), [[0.0, 0.0, 0.0, 40.0, 50.0]], dtype)


def test_sigmoid_tanh_identity_by_hand(form, dtype):
    x = np.array([[0.0, math.log(3.0)]], dtype)
    dy = np.array([[1.0, 2.0]], dtype)
    # σ(0) = 1/2;  σ(ln 3) = 1 / (1 + 1/3) = 3/4
    assert_forms_close(form.sigmoid(x), [[0.5, 0.75]], dtype)
    # σ' = σ(1 − σ): 1/2·1/2 = 1/4 (times 1);  3/4·1/4 = 3/16 (times 2) = 3/8
    assert_forms_close(form.sigmoid_backward(x, dy), [[0.25, 0.375]], dtype)
    # tanh(0) = 0;  tanh(ln 3) = (3 − 1/3) / (3 + 1/3) = 8/10 = 0.8
    assert_forms_close(form.tanh(x), [[0.0, 0.8]], dtype)
    # 1 − tanh² = 1 (times 1);  1 − 0.64 = 0.36 (times 2) = 0.72
    assert_forms_close(form.tanh_backward(x, dy), [[1.0, 0.72]], dtype)
    # identity: y = x, dx = dy, always a new array
    y = form.identity(x)
    assert y is not x and not np.shares_memory(y, x)
    assert_bitwise_equal(y, x)
    assert_bitwise_equal(form.identity_backward(x, dy), dy)


def test_softmax_by_hand_and_with_huge_logits(form, dtype):
    # z = [0, ln 3]: e^z = [1, 3], Σ = 4, p = [1/4, 3/4]; shifting a row changes nothing,
    # even by 1000 (e^1000 overflows: only the max-subtracted form survives it)
    z = np.array([[0.0, math.log(3.0)],
                  [1000.0, 1000.0 + math.log(3.0)],
                  [-1000.0, -1000.0 + math.log(3.0)]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = form.softmax(z)
    # 1000 + ln 3 is rounded to the dtype, so the last two rows are only as exact as
    # that rounding: |Δz| <= 1000·u changes p by up to 1000·u·p(1-p) < 1000·u/4
    assert_forms_close(p[0], [0.25, 0.75], dtype)
    np.testing.assert_allclose(p[1:], [[0.25, 0.75]] * 2, rtol=0, atol=300 * np.finfo(dtype).eps)


def test_sigmoid_is_stable_for_large_inputs(form, dtype):
    x = np.array([[-1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from e^1000
        y = form.sigmoid(x)
        dx = form.sigmoid_backward(x, np.ones_like(x))
    assert_forms_close(y, sigmoid64(x), dtype)
    assert y[0, 0] == 0.0 or y[0, 0] < 1e-40
    assert y[0, -1] == 1.0 and np.all(np.isfinite(dx)) and np.all(dx >= 0)
    # e^-20 = 2.06e-9 is representable in both dtypes, and must not be lost to 1 + e^-20 rounding
    assert_forms_close(y[0, 2], sigmoid64(x)[0, 2], dtype)


# --- out= buffers, dtypes, check_finite=False ------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), ROW_PARALLEL_SHAPES[0]], ids=shape_id)
def test_out_buffers_are_filled_and_returned(form, dtype, shape):
    x = data(shape, dtype, seed=5)
    dy = data(shape, dtype, seed=6)
    for name in ACTIVATIONS + ("softmax",):
        assert_writes_into_out(getattr(form, name), x, shape=shape, dtype=dtype)
        if name != "softmax":
            assert_writes_into_out(getattr(form, name + "_backward"), x, dy, shape=shape, dtype=dtype)


def test_results_keep_the_input_dtype(form, dtype):
    x, dy = data((2, 3), dtype, seed=7), data((2, 3), dtype, seed=8)
    for name in ACTIVATIONS:
        assert getattr(form, name)(x).dtype == np.dtype(dtype)
        assert getattr(form, name + "_backward")(x, dy).dtype == np.dtype(dtype)
    assert form.softmax(x).dtype == np.dtype(dtype)


def test_check_finite_false_lets_non_finite_values_through(form, dtype):
    x = np.array([[np.nan, np.inf, -np.inf, 0.5]], dtype)
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(nan\) at index \(0, 0\)"):
        form.relu(x)
    expected = {  # σ(nan) is nan for every activation: a diverging net must stay visible
        "identity": [np.nan, np.inf, -np.inf, 0.5],
        "relu": [np.nan, np.inf, 0.0, 0.5],
        "sigmoid": [np.nan, 1.0, 0.0, 1 / (1 + math.exp(-0.5))],
        "tanh": [np.nan, 1.0, -1.0, math.tanh(0.5)],
    }
    for name, want in expected.items():
        got = getattr(form, name)(x, check_finite=False)
        assert_forms_close(got, [want], dtype)  # assert_allclose treats nan == nan, inf == inf
    # dx = σ'(x)·dy is a product: a non-finite dy is not masked where σ' = 0
    with np.errstate(invalid="ignore"):
        dx = form.relu_backward(np.array([[-1.0, 2.0]], dtype), np.array([[np.nan, np.inf]], dtype),
                                check_finite=False)
    assert np.isnan(dx[0, 0]) and dx[0, 1] == np.inf


@pytest.mark.parametrize("shape", [(3, 100), ROW_PARALLEL_SHAPES[0]], ids=shape_id)
def test_non_finite_values_propagate_alike_in_vectorized_and_parallel_paths(dtype, shape):
    # large enough that the loop form runs its vectorized (and parallel) code, where a
    # compiler could turn `0 if x <= 0 else x` into a NaN-dropping max
    x = data(shape, dtype, seed=9)
    dy = data(shape, dtype, seed=10)
    x.ravel()[::7] = np.nan
    x.ravel()[3::11] = np.inf
    dy.ravel()[::5] = -np.inf
    with np.errstate(invalid="ignore"):
        for name in ACTIVATIONS:
            loop_y, matrix_y = call_both(name, x, check_finite=False)
            assert np.isnan(loop_y).sum() >= np.isnan(x).sum()
            assert_forms_close(loop_y, matrix_y, dtype)  # NaN and inf at the same places
            assert_forms_close(*call_both(name + "_backward", x, dy, check_finite=False), dtype)
