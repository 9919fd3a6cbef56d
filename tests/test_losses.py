"""Losses: loop form vs matrix form vs float64, by hand, reductions, targets, out=."""

import math
import warnings

import numpy as np
import pytest

from conftest import (FORMS, ROW_SHAPES, assert_agree, assert_bitwise_equal, assert_forms_close,
                      assert_writes_into_out, call_both, data, f64, labels, one_hot, shape_id)


def log_softmax64(z):
    z = f64(z)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def reduce64(per_sample, reduction):
    return per_sample.sum() / (per_sample.shape[0] if reduction == "mean" else 1)


def mse64(y, t, reduction):
    n, k = y.shape
    d = f64(y) - f64(t)
    return reduce64((d * d).mean(axis=1), reduction), 2 * d / (k * (n if reduction == "mean" else 1))


def cross_entropy64(z, t, reduction):
    """Reference with one-hot (or probability) rows ``t``."""
    n = z.shape[0]
    log_p = log_softmax64(z)
    grad = np.exp(log_p) - f64(t)
    return reduce64(-(f64(t) * log_p).sum(axis=1), reduction), grad / (n if reduction == "mean" else 1)


def loss_pair(name, *args, **kwargs):
    """((loss_l, grad_l), (loss_m, grad_m)) -> (loss_l, loss_m), (grad_l, grad_m)."""
    (loss_l, grad_l), (loss_m, grad_m) = call_both(name, *args, **kwargs)
    return (loss_l, loss_m), (grad_l, grad_m)


def assert_loss_scalar(loss, dtype):
    """A numpy scalar of the input dtype, not a Python float or a 0-d array."""
    assert type(loss) is np.dtype(dtype).type, type(loss)


# --- both forms agree, and agree with float64 -----------------------------------------------


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_mse(shape, dtype, reduction):
    y, t = data(shape, dtype, seed=1), data(shape, dtype, seed=2)
    losses, grads = loss_pair("mse", y, t, reduction)
    loss64, grad64 = mse64(y, t, reduction)
    # both forms sum the K squares of a sample in the dtype and the N per-sample
    # losses (all >= 0) in float64, so the total is as exact as a K-term sum
    assert_agree(losses, loss64, dtype, k=shape[1])
    assert_agree(grads, grad64, dtype)
    for loss in losses:
        assert_loss_scalar(loss, dtype)


@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_half_sse(shape, dtype):
    y, t = data(shape, dtype, seed=3), data(shape, dtype, seed=4)
    losses, grads = loss_pair("half_sse", y, t)
    d = f64(y) - f64(t)
    assert_agree(losses, 0.5 * (d * d).sum(), dtype, k=shape[1])  # as for mse
    assert_agree(grads, d, dtype)
    for loss in losses:
        assert_loss_scalar(loss, dtype)


@pytest.mark.parametrize("target_kind", ["labels", "one-hot"])
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_softmax_cross_entropy(shape, dtype, reduction, target_kind):
    n, k = shape
    z = data(shape, dtype, seed=5, scale=3.0)
    lab = labels(n, k, seed=6)
    t = one_hot(lab, k, dtype)
    losses, grads = loss_pair("softmax_cross_entropy", z, lab if target_kind == "labels" else t, reduction)
    loss64, grad64 = cross_entropy64(z, t, reduction)
    # a per-sample loss is m + log Σ_k e^(z_k − m) − z_label: a K-term sum in the dtype, and
    # terms up to |z| <= 12 (N(0, 9) data) whose rounding is absolute, not relative (scale);
    # the N per-sample losses (all >= 0) are summed in float64
    assert_agree(losses, loss64, dtype, k=k, scale=12.0)
    assert_agree(grads, grad64, dtype, k=k)
    for loss in losses:
        assert_loss_scalar(loss, dtype)


# --- by hand -------------------------------------------------------------------------------------------


def test_mse_by_hand(form, dtype):
    y = np.array([[1.0, 2.0],
                  [3.0, 4.0]], dtype)
    t = np.array([[0.0, 2.0],
                  [5.0, 4.0]], dtype)
    # y − t = [[1, 0], [−2, 0]], squares [[1, 0], [4, 0]]
    # per-sample loss, the mean over K = 2 outputs: [1/2, 4/2] = [0.5, 2]
    # "mean": E = (0.5 + 2) / N = 2.5 / 2 = 1.25,   dy = 2 (y − t) / (N K) = (y − t) / 2
    loss, dy = form.mse(y, t, "mean")
    assert_forms_close(loss, 1.25, dtype)
    assert_forms_close(dy, [[0.5, 0.0], [-1.0, 0.0]], dtype)
    # "sum":  E = 0.5 + 2 = 2.5,                   dy = 2 (y − t) / K = y − t
    loss, dy = form.mse(y, t, "sum")
    assert_forms_close(loss, 2.5, dtype)
    assert_forms_close(dy, [[1.0, 0.0], [-2.0, 0.0]], dtype)
    # the default reduction is "mean"
    assert_forms_close(form.mse(y, t)[0], 1.25, dtype)


def test_half_sse_by_hand(form, dtype):
    y = np.array([[1.0, 2.0], [3.0, 4.0]], dtype)
    t = np.array([[0.0, 2.0], [5.0, 4.0]], dtype)
    # E = ½ (1² + 0² + (−2)² + 0²) = 2.5,  dy = δ = y − t
    loss, dy = form.half_sse(y, t)
    assert_forms_close(loss, 2.5, dtype)
    assert_forms_close(dy, [[1.0, 0.0], [-2.0, 0.0]], dtype)


def test_softmax_cross_entropy_by_hand(form, dtype, reduction):
    # z = [0, ln 3] in both rows: e^z = [1, 3], p = [1/4, 3/4]
    z = np.array([[0.0, math.log(3.0)],
                  [0.0, math.log(3.0)]], dtype)
    lab = np.array([1, 0])
    # row 0, class 1: E_0 = −ln(3/4) = ln(4/3),  dz_0 = p − t = [1/4, 3/4 − 1] = [1/4, −1/4]
    # row 1, class 0: E_1 = −ln(1/4) = ln 4,     dz_1 = [1/4 − 1, 3/4]      = [−3/4, 3/4]
    # "sum": E = ln(4/3) + ln 4 = ln(16/3);  "mean": E and dz divided by N = 2
    n = 2 if reduction == "mean" else 1
    loss_want = math.log(16 / 3) / n
    dz_want = np.array([[0.25, -0.25], [-0.75, 0.75]]) / n
    for target in (lab, one_hot(lab, 2, dtype)):
        loss, dz = form.softmax_cross_entropy(z, target, reduction)
        assert_forms_close(loss, loss_want, dtype, k=2)
        assert_forms_close(dz, dz_want, dtype, k=2)


def test_cross_entropy_is_stable_for_huge_logits(form, dtype):
    # p = softmax([0, 1e4]) = [e^-1e4, 1] (e^-1e4 underflows to 0); the loss of the wrong
    # class is −log p_0 = 1e4 exactly, not inf; the right class costs e^-1e4 ≈ 0
    z = np.array([[0.0, 1e4], [0.0, 1e4]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dz = form.softmax_cross_entropy(z, np.array([0, 1]), "sum")
    assert_forms_close(loss, 1e4, dtype)
    assert_forms_close(dz, [[-1.0, 1.0], [0.0, 0.0]], dtype)


def test_probability_targets_are_accepted(form):
    # soft target t = [1/2, 1/2] on p = [1/4, 3/4]: E = −½ ln(1/4) − ½ ln(3/4) = ½ ln(16/3)
    z = np.array([[0.0, math.log(3.0)]])
    loss, dz = form.softmax_cross_entropy(z, np.array([[0.5, 0.5]]), "mean")
    assert_forms_close(loss, 0.5 * math.log(16 / 3), np.float64, k=2)
    assert_forms_close(dz, [[-0.25, 0.25]], np.float64, k=2)


# --- out= buffers, label dtypes --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), ROW_SHAPES[-1]], ids=shape_id)
def test_out_buffers_are_filled_and_returned(form, dtype, reduction, shape):
    n, k = shape
    y, t = data(shape, dtype, seed=7), data(shape, dtype, seed=8)
    lab = labels(n, k, seed=9)
    calls = [("mse", (y, t, reduction)), ("half_sse", (y, t)),
             ("softmax_cross_entropy", (y, lab, reduction)),
             ("softmax_cross_entropy", (y, one_hot(lab, k, dtype), reduction))]
    for name, args in calls:
        (loss, _), (fresh_loss, _) = assert_writes_into_out(getattr(form, name), *args, shape=shape, dtype=dtype,
                                                            pick=lambda result: result[1])
        assert_bitwise_equal(loss, fresh_loss)


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int32, np.uint64, np.intp])
def test_any_integer_label_dtype(form, label_dtype):
    z = data((5, 3), np.float64, seed=10)
    lab = np.array([0, 2, 1, 1, 2])
    want = form.softmax_cross_entropy(z, lab)
    got = form.softmax_cross_entropy(z, lab.astype(label_dtype))
    assert_bitwise_equal(got[0], want[0])
    assert_bitwise_equal(got[1], want[1])


def test_inputs_are_not_modified():
    z = data((6, 4), np.float32, seed=11)
    t = one_hot(labels(6, 4, seed=12), 4, np.float32)
    y = data((6, 4), np.float32, seed=13)
    before = [a.copy() for a in (z, t, y)]
    for module in FORMS.values():
        module.softmax_cross_entropy(z, t)
        module.mse(y, t)
        module.half_sse(y, t)
    for a, a0 in zip((z, t, y), before):
        assert_bitwise_equal(a, a0)


# --- sigmoid cross-entropy (binary and multi-label) ----------------------------------------


def sigmoid_cross_entropy64(z, t, reduction):
    z, t = f64(z), f64(t)
    s = 1 / (1 + np.exp(-z))
    per_sample = -(t * np.log(s) + (1 - t) * np.log1p(-s)).sum(axis=1)
    return reduce64(per_sample, reduction), (s - t) / (z.shape[0] if reduction == "mean" else 1)


def test_sigmoid_cross_entropy_by_hand(form, dtype, reduction):
    # z = [0, ln 3]: s(z) = [1/2, 3/4]; targets [1, 0] and [0, 1]
    z = np.array([[0.0, math.log(3.0)],
                  [0.0, math.log(3.0)]], dtype)
    t = np.array([[1.0, 0.0],
                  [0.0, 1.0]], dtype)
    # row 0: −ln(1/2) − ln(1 − 3/4) = ln 2 + ln 4 = ln 8;  dz_0 = s − t = [−1/2, 3/4]
    # row 1: −ln(1 − 1/2) − ln(3/4) = ln 2 + ln(4/3) = ln(8/3);  dz_1 = [1/2, −1/4]
    # "sum": E = ln 8 + ln(8/3) = ln(64/3);  "mean": E and dz divided by N = 2
    n = 2 if reduction == "mean" else 1
    loss, dz = form.sigmoid_cross_entropy(z, t, reduction)
    assert_forms_close(loss, math.log(64 / 3) / n, dtype, k=2)
    assert_forms_close(dz, np.array([[-0.5, 0.75], [0.5, -0.25]]) / n, dtype, k=2)


def test_sigmoid_cross_entropy_is_stable_for_huge_logits(form, dtype):
    z = np.array([[1e4, -1e4, 30.0, -30.0]], dtype)
    t = np.array([[1.0, 0.0, 0.0, 1.0]], dtype)
    loss, dz = form.sigmoid_cross_entropy(z, t, "sum")
    # right with certainty: exactly nothing (e^(−10⁴) = 0), no inf and no NaN;
    # wrong by 30 in the logit: 30 + log(1 + e^(−30)) each, and s(30) − 0, s(−30) − 1
    tail = math.exp(-30.0)
    assert_forms_close(loss, 60.0 + 2 * math.log1p(tail), dtype, k=4, scale=60.0)
    assert_forms_close(dz, [[0.0, 0.0, 1 / (1 + tail), -1 / (1 + tail)]], dtype, k=1)


@pytest.mark.parametrize("bad", [2.0, -0.5, np.nan])
def test_sigmoid_cross_entropy_refuses_targets_outside_0_1(form, bad):
    z = np.zeros((2, 3))
    t = np.array([[0.0, 1.0, 0.0], [1.0, bad, 0.0]])
    with pytest.raises(ValueError):
        form.sigmoid_cross_entropy(z, t, check_finite=False)


# --- Poisson (log link) ------------------------------------------------------------------------


def poisson64(z, t, reduction):
    z, t = f64(z), f64(t)
    mu = np.exp(z)
    t_log_t = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0)
    per_sample = (mu - t * z + t_log_t - t).sum(axis=1)
    return reduce64(per_sample, reduction), (mu - t) / (z.shape[0] if reduction == "mean" else 1)


# name: (logits, targets, reference, the size of one term of a per-sample sum, the
# size of a gradient element): 0/1 rows against logits up to |z| <= 12 (N(0, 9)),
# gradients s(z) − t within 1; counts near 1.5 against N(0, 1) log-means, terms up
# to about e^3 + 3 t and gradients e^z − t up to about 20
PER_OUTPUT_LOSSES = {
    "sigmoid_cross_entropy": (lambda shape, dtype: data(shape, dtype, seed=11, scale=3.0),
                              lambda shape, dtype: (data(shape, dtype, seed=12) > 0).astype(dtype),
                              sigmoid_cross_entropy64, 12.0, 1.0),
    "poisson": (lambda shape, dtype: data(shape, dtype, seed=13),
                lambda shape, dtype: np.random.default_rng(14).poisson(1.5, shape).astype(dtype),
                poisson64, 30.0, 20.0),
}


@pytest.mark.parametrize("name", list(PER_OUTPUT_LOSSES))
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=shape_id)
def test_per_output_losses(name, shape, dtype, reduction):
    logits, targets, reference, scale, grad_scale = PER_OUTPUT_LOSSES[name]
    z, t = logits(shape, dtype), targets(shape, dtype)
    losses, grads = loss_pair(name, z, t, reduction)
    loss64, grad64 = reference(z, t, reduction)
    # K terms per sample in the dtype, each as large as `scale` (rounding absolute)
    assert_agree(losses, loss64, dtype, k=shape[1], scale=scale)
    assert_agree(grads, grad64, dtype, scale=grad_scale)
    for loss in losses:
        assert_loss_scalar(loss, dtype)


def test_poisson_by_hand(form, dtype, reduction):
    # z = [0, ln 2]: μ = [1, 2]; targets [1, 0] and [2, 2]
    z = np.array([[0.0, math.log(2.0)],
                  [0.0, math.log(2.0)]], dtype)
    t = np.array([[1.0, 0.0],
                  [2.0, 2.0]], dtype)
    # row 0: (1 − 0 + 0 − 1) + (2 − 0 + 0 − 0) = 2;  dz_0 = μ − t = [0, 2]
    # row 1: (1 − 0 + 2 ln 2 − 2) + (2 − 2 ln 2 + 2 ln 2 − 2) = 2 ln 2 − 1;  dz_1 = [−1, 0]
    n = 2 if reduction == "mean" else 1
    loss, dz = form.poisson(z, t, reduction)
    assert_forms_close(loss, (1 + 2 * math.log(2.0)) / n, dtype, k=4, scale=2.0)
    assert_forms_close(dz, np.array([[0.0, 2.0], [-1.0, 0.0]]) / n, dtype, k=1, scale=2.0)


def test_poisson_is_zero_where_the_mean_is_the_target(form):
    t = np.array([[0.5, 3.0, 7.0]])
    loss, dz = form.poisson(np.log(t), t, "sum")
    assert abs(loss) < 1e-14 and np.abs(dz).max() < 1e-14


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_poisson_refuses_negative_targets(form, bad):
    with pytest.raises(ValueError, match=">= 0"):
        form.poisson(np.zeros((2, 2)), np.array([[0.0, 1.0], [bad, 2.0]]), check_finite=False)
