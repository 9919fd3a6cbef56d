"""Central finite differences in float64 against the analytic gradients of both forms:
the dense layer, every activation, every loss, and whole 3-layer networks assembled
from the kernels."""

import numpy as np
import pytest

from conftest import (ACTIVATIONS, assert_gradient, away_from_zero, data, labels, mlp_loss_and_grads,
                      one_hot)

F64 = np.float64


def contract(a, g):
    """E = Σ g ⊙ a: a scalar whose gradient with respect to ``a`` is ``g``."""
    return float(np.sum(a * g))


def test_dense_layer(form):
    x, w = data((4, 3), F64, 1), data((3, 5), F64, 2)
    b, g = data((5,), F64, 3), data((4, 5), F64, 4)

    def energy():
        return contract(form.dense_forward(x, w, b), g)

    dw, db = form.dense_backward_params(x, g)
    assert_gradient(form.dense_backward_input(g, w), energy, x, "dx")
    assert_gradient(dw, energy, w, "dw")
    assert_gradient(db, energy, b, "db")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(form, name):
    # away from 0 so that no step of ±FD_STEP crosses the kink of ReLU
    x = away_from_zero(data((3, 7), F64, 5, scale=2.0))
    g = data((3, 7), F64, 6)
    dx = getattr(form, name + "_backward")(x, g)
    assert_gradient(dx, lambda: contract(getattr(form, name)(x), g), x, name)


def test_mse(form, reduction):
    y, t = data((4, 3), F64, 7), data((4, 3), F64, 8)
    _, dy = form.mse(y, t, reduction)
    assert_gradient(dy, lambda: form.mse(y, t, reduction)[0], y, "mse")


def test_half_sse(form):
    y, t = data((4, 3), F64, 9), data((4, 3), F64, 10)
    _, dy = form.half_sse(y, t)
    assert_gradient(dy, lambda: form.half_sse(y, t)[0], y, "half_sse")


@pytest.mark.parametrize("target_kind", ["labels", "one-hot", "probabilities"])
def test_softmax_cross_entropy(form, reduction, target_kind):
    z = data((5, 4), F64, 11, scale=2.0)
    lab = labels(5, 4, 12)
    target = {"labels": lab, "one-hot": one_hot(lab, 4, F64),
              "probabilities": np.random.default_rng(13).dirichlet(np.ones(4), size=5)}[target_kind]
    _, dz = form.softmax_cross_entropy(z, target, reduction)
    assert_gradient(dz, lambda: form.softmax_cross_entropy(z, target, reduction)[0], z, "cross-entropy")


# --- whole networks --------------------------------------------------------------------------------

WIDTHS = [4, 6, 5, 3]   # Dense 4->6, Tanh, Dense 6->5, ReLU, Dense 5->3
ACTS = ["tanh", "relu"]
BATCH = 7


def network(seed):
    return [(data((a, b), F64, seed + 2 * l, scale=1 / np.sqrt(a)), data((b,), F64, seed + 2 * l + 1, scale=0.1))
            for l, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:]))]


def relu_inputs_clear_of_the_kink(form, params, x):
    """Smallest |pre-activation| of the ReLU layer: must exceed what a step of FD_STEP
    in one weight, bias or input can move it (|Δ| <= FD_STEP·max(|x|, |w|, 1)·...)."""
    h1 = np.tanh(form.dense_forward(x, *params[0]))
    return np.min(np.abs(form.dense_forward(h1, *params[1])))


@pytest.mark.parametrize("loss, reduction", [("softmax_cross_entropy", "mean"), ("softmax_cross_entropy", "sum"),
                                             ("mse", "mean"), ("mse", "sum"), ("half_sse", None)])
def test_three_layer_network(form, loss, reduction):
    params = network(seed=20)
    x = data((BATCH, WIDTHS[0]), F64, 30)
    if loss == "softmax_cross_entropy":
        target = labels(BATCH, WIDTHS[-1], 31)
    else:
        target = data((BATCH, WIDTHS[-1]), F64, 32)
    assert relu_inputs_clear_of_the_kink(form, params, x) > 1e-3  # a precondition of this seed

    def energy():
        return mlp_loss_and_grads(form, params, ACTS, x, target, loss, reduction or "sum")[0]

    _, grads, dx = mlp_loss_and_grads(form, params, ACTS, x, target, loss, reduction or "sum")
    for layer, ((w, b), (dw, db)) in enumerate(zip(params, grads)):
        assert_gradient(dw, energy, w, f"layer {layer} dw")
        assert_gradient(db, energy, b, f"layer {layer} db")
    assert_gradient(dx, energy, x, "dx")



@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_sigmoid_cross_entropy(form, reduction):
    z = data((5, 4), np.float64, seed=9, scale=3.0)
    t = (data((5, 4), np.float64, seed=10) > 0).astype(np.float64)
    _, dz = form.sigmoid_cross_entropy(z, t, reduction)
    assert_gradient(dz, lambda: form.sigmoid_cross_entropy(z, t, reduction)[0], z, "sigmoid cross-entropy")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_poisson(form, reduction):
    z = data((5, 3), np.float64, seed=15)
    t = np.random.default_rng(16).poisson(2.0, (5, 3)).astype(np.float64)
    _, dz = form.poisson(z, t, reduction)
    assert_gradient(dz, lambda: form.poisson(z, t, reduction)[0], z, "poisson")
