"""Property tests (hypothesis) over random shapes and values, in both dtypes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import ACTIVATIONS, DTYPES, FORMS, assert_bitwise_equal, assert_forms_close, call_both, one_hot

SETTINGS = settings(deadline=None, max_examples=40)
DIMS = st.integers(1, 12)


def floats(dtype, bound):
    """Finite values in [-bound, bound], exactly representable in ``dtype``, zeros included."""
    return st.floats(-bound, bound, width=np.finfo(dtype).bits, allow_nan=False, allow_infinity=False)


def matrix(draw, dtype, shape, bound):
    return draw(hnp.arrays(dtype, shape, elements=floats(dtype, bound)))


@st.composite
def dense_case(draw, bound=4.0):
    dtype = draw(st.sampled_from(DTYPES))
    n, n_in, n_out = draw(DIMS), draw(DIMS), draw(DIMS)
    return (dtype, matrix(draw, dtype, (n, n_in), bound), matrix(draw, dtype, (n_in, n_out), bound),
            matrix(draw, dtype, (n_out,), bound), matrix(draw, dtype, (n, n_out), bound))


@st.composite
def rows_case(draw, bound, with_labels=False):
    dtype = draw(st.sampled_from(DTYPES))
    n, k = draw(DIMS), draw(DIMS)
    a, b = matrix(draw, dtype, (n, k), bound), matrix(draw, dtype, (n, k), bound)
    if not with_labels:
        return dtype, a, b
    lab = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    return dtype, a, lab


# Values are bounded by 4, so a product term of a dense sum is at most 16: that is the
# `scale` of the absolute tolerance (see conftest.tolerance).


@SETTINGS
@given(dense_case())
def test_dense_forms_agree(case):
    dtype, x, w, b, dy = case
    assert_forms_close(*call_both("dense_forward", x, w, b), dtype, k=x.shape[1] + 1, scale=16)
    assert_forms_close(*call_both("dense_backward_input", dy, w), dtype, k=w.shape[1], scale=16)
    (dw_l, db_l), (dw_m, db_m) = call_both("dense_backward_params", x, dy)
    assert_forms_close(dw_l, dw_m, dtype, k=x.shape[0], scale=16)
    assert_forms_close(db_l, db_m, dtype, k=x.shape[0], scale=4)


@SETTINGS
@given(dense_case(), st.floats(0, 1))
def test_sgd_update_equals_w_minus_lr_dw(case, lr):
    dtype, x, w, b, dy = case
    lr_t = dtype(lr)  # both forms step in the parameters' precision
    for module in FORMS.values():
        dw, db = module.dense_backward_params(x, dy)
        w1, b1 = w.copy(), b.copy()
        module.dense_sgd_update(x, dy, w1, b1, lr)
        assert_forms_close(w1, w - lr_t * dw, dtype, k=x.shape[0], scale=16)
        assert_forms_close(b1, b - lr_t * db, dtype, k=x.shape[0], scale=4)


@SETTINGS
@given(rows_case(bound=8.0))
def test_activation_forms_agree(case):
    dtype, x, dy = case
    for name in ACTIVATIONS:
        assert_forms_close(*call_both(name, x), dtype)
        # |dy| <= 8 multiplies the rounding of σ'(x)
        assert_forms_close(*call_both(name + "_backward", x, dy), dtype, scale=8)


@SETTINGS
@given(rows_case(bound=50.0))
def test_softmax_rows_are_distributions(case):
    dtype, z, _ = case
    p_l, p_m = call_both("softmax", z)
    assert_forms_close(p_l, p_m, dtype, k=z.shape[1])
    for p in (p_l, p_m):
        assert np.all(p >= 0) and np.all(p <= 1)
        assert_forms_close(p.sum(axis=1), np.ones(z.shape[0]), dtype, k=z.shape[1])
        # the largest logit of a row gets the largest probability
        rows = np.arange(z.shape[0])
        assert np.all(p[rows, z.argmax(axis=1)] == p.max(axis=1))


@SETTINGS
@given(rows_case(bound=4.0), st.data())
def test_relu_backward_is_zero_where_x_is_not_positive(case, draw):
    dtype, x, dy = case
    # make zeros likely: σ'(0) = 0 must hold exactly at 0 (and -0)
    mask = draw.draw(hnp.arrays(np.bool_, x.shape))
    x = np.where(mask, dtype(0) * np.sign(x), x).astype(dtype)
    for module in FORMS.values():
        dx = module.relu_backward(x, dy)
        np.testing.assert_array_equal(dx[x <= 0], 0)
        assert_bitwise_equal(dx[x > 0], dy[x > 0])
        y = module.relu(x)
        np.testing.assert_array_equal(y, np.where(x > 0, x, 0))


@SETTINGS
@given(rows_case(bound=20.0, with_labels=True), st.sampled_from(["mean", "sum"]))
def test_cross_entropy_one_hot_equals_labels(case, reduction):
    dtype, z, lab = case
    for module in FORMS.values():
        loss_l, dz_l = module.softmax_cross_entropy(z, lab, reduction)
        loss_h, dz_h = module.softmax_cross_entropy(z, one_hot(lab, z.shape[1], dtype), reduction)
        # the two code paths round differently: terms up to |z| <= 20 (see test_losses)
        assert_forms_close(loss_l, loss_h, dtype, k=z.shape[1], scale=20)
        assert_forms_close(dz_l, dz_h, dtype, k=z.shape[1])


@SETTINGS
@given(rows_case(bound=20.0, with_labels=True), st.sampled_from(["mean", "sum"]))
def test_cross_entropy_forms_agree(case, reduction):
    dtype, z, lab = case
    (loss_l, dz_l), (loss_m, dz_m) = call_both("softmax_cross_entropy", z, lab, reduction)
    assert_forms_close(loss_l, loss_m, dtype, k=z.shape[1], scale=20)
    assert_forms_close(dz_l, dz_m, dtype, k=z.shape[1])
    assert loss_l >= 0 and loss_m >= 0


@SETTINGS
@given(rows_case(bound=4.0))
def test_mse_sum_is_n_times_mean(case):
    dtype, y, t = case
    n = y.shape[0]
    for module in FORMS.values():
        loss_mean, dy_mean = module.mse(y, t, "mean")
        loss_sum, dy_sum = module.mse(y, t, "sum")
        # same per-sample losses and float64 total: only the final roundings differ
        assert_forms_close(loss_sum, n * np.float64(loss_mean), dtype)
        assert_forms_close(dy_sum, n * dy_mean.astype(np.float64), dtype)
        # and mse is the mean of the squares, half_sse half their sum
        assert_forms_close(module.half_sse(y, t)[0], 0.5 * y.shape[1] * np.float64(loss_sum), dtype,
                           k=y.shape[1])


@SETTINGS
@given(rows_case(bound=4.0), st.sampled_from(["mean", "sum"]))
def test_mse_forms_agree(case, reduction):
    dtype, y, t = case
    (loss_l, dy_l), (loss_m, dy_m) = call_both("mse", y, t, reduction)
    assert_forms_close(loss_l, loss_m, dtype, k=y.shape[1])
    assert_forms_close(dy_l, dy_m, dtype)
