"""Training: train_step and the optimizers' state, fit (learning, reproducibility,
threads, history, early stopping, callbacks, progress), bad input and divergence."""

import re

import numpy as np
import pytest

from conftest import assert_bitwise_equal, data, read_only
from fastnn import Dense, Network, ReLU, Tanh
from fastnn.data import load_digits, train_test_split
from fastnn.loops import passes as loops_passes
from test_network import N_IN, assert_params_unchanged, dataset, layers_starting_with, mlp, offset_in_params

FORMS = ("loops", "matrix")
# The optimizer references below are written in float64 NumPy from the equations of
# fastnn/loops/optim.py; the network computes the same in float64 with its own sums
# and fused multiply-adds, so they agree to rounding: 1e-12 relative is ~4500 ulps of
# a handful of operations per step, far below the O(lr·g) ~ 1e-2 a wrong rule moves.
REF_RTOL, REF_ATOL = 1e-12, 1e-14


def assert_matches_reference(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=REF_RTOL, atol=REF_ATOL)


def regression_net(form="loops", dtype="float64", seed=0, **kwargs):
    return Network(mlp(n_out=2, hidden=Tanh), form=form, dtype=dtype, seed=seed, **kwargs)


def batches(n_steps, n=6, seed=10):
    """A different (X, T) batch per step, so that each step has its own gradient."""
    return [dataset("rows", n=n, seed=seed + 2 * k, n_out=2) for k in range(n_steps)]


def flat_grads(net, X, T, weight_decay=0.0):
    """The gradient in the layout of ``net.params`` (padding 0), from ``net.gradients``."""
    g = np.zeros_like(net.params)
    views = net.parameters()
    for (dw, db), (w, b) in zip(net.gradients(X, T, weight_decay), views):
        for grad, view in ((dw, w), (db, b)):
            start = offset_in_params(net, view)
            g[start:start + view.size] = grad.ravel()
    return g


# --- train_step and the optimizers ------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_train_step_is_plain_gradient_descent_and_returns_the_loss_before(form):
    net = regression_net(form)
    X, T = dataset("rows", n=6, n_out=2)
    p0, loss0, g = net.params.copy(), net.loss(X, T), flat_grads(net, X, T)
    assert net.train_step(X, T, lr=0.3) == pytest.approx(loss0, rel=1e-14)
    assert_matches_reference(net.params, p0 - 0.3 * g)
    assert net.loss(X, T) < loss0
    assert net.step_count == 1


@pytest.mark.parametrize("target", ["one_hot", "labels"])
@pytest.mark.parametrize("form", FORMS)
def test_train_step_takes_the_batch_as_it_is_or_copied_alike(form, target):
    """A writeable batch goes to the compiled step as it is; a read-only one is copied
    into the work buffers first (to Numba it would be another type, compiled again).
    Both give the same step, bitwise, and neither batch is written to.  The network
    starts with an activation, so that layer reads the batch too."""
    X, T = dataset(target, n=6)
    X0, T0 = X.copy(), T.copy()
    # float64 like the data: a batch of another dtype is converted, hence a new array
    direct, copied = (Network(layers_starting_with(Tanh), loss="softmax_cross_entropy", form=form,
                              dtype="float64", seed=0) for _ in range(2))
    for _ in range(2):
        loss = direct.train_step(X, T, lr=0.3)
        signatures = list(loops_passes._train_step.signatures)
        assert loss == copied.train_step(read_only(X), read_only(T), lr=0.3)
        assert loops_passes._train_step.signatures == signatures
    assert_bitwise_equal(direct.params, copied.params)
    assert_bitwise_equal(X, X0)
    assert_bitwise_equal(T, T0)


@pytest.mark.parametrize("form", FORMS)
def test_train_step_with_weight_decay(form):
    net = regression_net(form)
    X, T = dataset("rows", n=6, n_out=2)
    p0, g = net.params.copy(), flat_grads(net, X, T, weight_decay=0.5)
    net.train_step(X, T, lr=0.3, weight_decay=0.5)
    assert_matches_reference(net.params, p0 - 0.3 * g)
    assert not np.allclose(g, flat_grads(regression_net(form), X, T))


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
@pytest.mark.parametrize("form", FORMS)
def test_momentum_velocity_carries_over_between_steps(form, nesterov):
    lr, mu = 0.2, 0.7
    net = regression_net(form)
    p, v = net.params.copy(), np.zeros_like(net.params)
    for X, T in batches(3):
        g = flat_grads(net, X, T)
        v = mu * v - lr * g
        p = p + (mu * v - lr * g if nesterov else v)
        net.train_step(X, T, lr=lr, optimizer="sgd", momentum=mu, nesterov=nesterov)
        assert_matches_reference(net.params, p)
    assert net.step_count == 3


@pytest.mark.parametrize("form", FORMS)
def test_adam_matches_a_numpy_reimplementation(form):
    lr, b1, b2, eps = 0.05, 0.8, 0.95, 1e-6
    net = regression_net(form)
    p, m, s = net.params.copy(), np.zeros_like(net.params), np.zeros_like(net.params)
    for t, (X, T) in enumerate(batches(4), start=1):
        g = flat_grads(net, X, T, weight_decay=0.1)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        p = p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(s) + eps)
        net.train_step(X, T, lr=lr, optimizer="adam", beta1=b1, beta2=b2, eps=eps, weight_decay=0.1)
        assert_matches_reference(net.params, p)


def test_changing_the_optimizer_settings_restarts_its_state():
    X, T = dataset("rows", n=6, n_out=2)
    a, b = regression_net(), regression_net()
    a.train_step(X, T, lr=0.1, momentum=0.9)
    a.train_step(X, T, lr=0.1, momentum=0.5)  # a new velocity: like a first step with μ = 0.5
    b.train_step(X, T, lr=0.1, momentum=0.9)
    p1 = b.params.copy()
    g = flat_grads(b, X, T)
    assert_matches_reference(a.params, p1 - 0.1 * g)
    assert a.step_count == 1


def test_fit_can_continue_the_optimizer_state():
    X, T = dataset("rows", n=8, n_out=2)
    kw = dict(batch_size=8, lr=0.1, optimizer="adam", shuffle=False, progress=False)
    a, b = regression_net(), regression_net()
    a.fit(X, T, epochs=2, **kw)
    b.fit(X, T, epochs=1, **kw)
    b.fit(X, T, epochs=1, reset_optimizer=False, **kw)
    assert_bitwise_equal(a.params, b.params)
    assert a.step_count == b.step_count == 2
    b.fit(X, T, epochs=1, **kw)  # reset: the step count starts again
    assert b.step_count == 1


# --- learning ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_xor_is_learned_by_a_2_3_1_tanh_network(form):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    T = np.array([0.0, 1.0, 1.0, 0.0])
    net = Network([Dense(2, 3), Tanh(), Dense(3, 1)], form=form, dtype="float64", seed=0)
    assert not np.array_equal(np.round(net.predict(X).ravel()), T)
    history = net.fit(X, T, epochs=1000, batch_size=4, lr=0.5, seed=0, progress=False)
    np.testing.assert_array_equal(np.round(net.predict(X).ravel()), T)
    assert history.loss[-1] < 1e-3 < history.loss[0]


def test_digits_reach_95_percent_test_accuracy():
    X, y = load_digits(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.25, seed=0)
    net = Network([Dense(64, 128), ReLU(), Dense(128, 10)], loss="softmax_cross_entropy", seed=0)
    # plain SGD at this rate is noisy from epoch to epoch (0.89-0.96 over epochs 5-10);
    # by epoch 15 every seed tried (0, 1, 2) is above 0.969
    history = net.fit(X_train, y_train, epochs=15, batch_size=32, lr=0.1, seed=0, progress=False,
                      validation_data=(X_test, y_test))
    accuracy = np.mean(net.predict_classes(X_test) == y_test)
    assert accuracy >= 0.95
    assert history.val_accuracy[-1] == pytest.approx(accuracy)
    assert history.loss[-1] < history.loss[0]


# --- reproducibility -------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_seeded_fit_is_reproducible_and_shuffling_matters(form):
    X, T = dataset("labels", n=30)

    def trained(**kwargs):
        net = Network(mlp(), loss="softmax_cross_entropy", form=form, seed=1)
        net.fit(X, T, epochs=3, batch_size=4, lr=0.1, progress=False, **kwargs)
        return net.params

    assert_bitwise_equal(trained(seed=5), trained(seed=5))
    assert not np.array_equal(trained(seed=5), trained(seed=6))
    assert_bitwise_equal(trained(shuffle=False), trained(shuffle=False, seed=9))
    assert not np.array_equal(trained(shuffle=False), trained(shuffle=True, seed=5))


def test_loop_form_is_bitwise_independent_of_the_thread_count():
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 threads")
    from fastnn import _config

    # 64 x 64 x 300 multiply-adds per batch of 64 > PARALLEL_MIN_FLOPS and ~81k
    # parameters > PARALLEL_MIN_ELEMENTS: the dense kernels and the update run in parallel
    assert 64 * 64 * 300 >= _config.PARALLEL_MIN_FLOPS
    X, y = data((192, 64), np.float32, 3), np.arange(192) % 10
    before = numba.get_num_threads()
    params = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            net = Network([Dense(64, 300), ReLU(), Dense(300, 200), Tanh(), Dense(200, 10)],
                          loss="softmax_cross_entropy", seed=0)
            assert net.params.size >= _config.PARALLEL_MIN_ELEMENTS
            net.fit(X, y, epochs=1, batch_size=64, lr=0.05, optimizer="adam", seed=0, progress=False)
            params.append(net.params)
    finally:
        numba.set_num_threads(before)
    assert numba.get_num_threads() == before
    assert_bitwise_equal(params[0], params[1])


# --- history, early stopping, callbacks, progress ------------------------------------------------------


def test_history_records_every_epoch():
    X, T = dataset("labels", n=20)
    Xv, Tv = dataset("labels", n=9, seed=50)
    net = Network(mlp(), loss="softmax_cross_entropy", seed=0)
    h = net.fit(X, T, epochs=4, batch_size=5, lr=0.1, seed=0, progress=False, validation_data=(Xv, Tv))
    assert h.epochs == 4 and len(h.loss) == len(h.val_loss) == len(h.val_accuracy) == len(h.seconds) == 4
    assert all(s > 0 for s in h.seconds)
    assert h.val_loss[-1] == pytest.approx(net.loss(Xv, Tv), rel=1e-6)
    assert h.val_accuracy[-1] == np.mean(net.predict_classes(Xv) == Tv)
    assert set(h.history) == {"loss", "seconds", "val_loss", "val_accuracy"}
    assert h.best_epoch is None and not h.stopped_early
    # without validation data: no validation entries; regression: no accuracy
    h = regression_net().fit(*dataset("rows", n=8, n_out=2), epochs=2, progress=False,
                             validation_data=dataset("rows", n=3, n_out=2, seed=5))
    assert len(h.val_loss) == 2 and h.val_accuracy == []
    h = regression_net().fit(*dataset("rows", n=8, n_out=2), epochs=2, progress=False)
    assert h.val_loss == [] and set(h.history) == {"loss", "seconds"}


def test_epoch_loss_is_the_mean_of_the_losses_before_each_step():
    X, T = dataset("rows", n=10, n_out=2)
    net, copy = regression_net(), regression_net()
    h = net.fit(X, T, epochs=1, batch_size=4, lr=0.1, shuffle=False, progress=False)
    losses = [copy.train_step(X[k:k + 4], T[k:k + 4], lr=0.1) for k in (0, 4, 8)]
    assert h.loss[0] == pytest.approx(np.dot(losses, [4, 4, 2]) / 10, rel=1e-12)
    assert_bitwise_equal(net.params, copy.params)


def test_early_stopping_restores_the_best_parameters():
    # train towards T but validate against T / 2: the validation loss falls while the
    # outputs approach T / 2, then rises as they go on towards T
    X, T = dataset("rows", n=16, n_out=2)
    net = regression_net()
    seen = []
    h = net.fit(X, T, epochs=200, batch_size=16, lr=0.1, progress=False, validation_data=(X, T / 2),
                early_stopping=True, patience=3, callbacks=[lambda e, logs, n: seen.append(n.params.copy())])
    best = int(np.argmin(h.val_loss))
    assert h.stopped_early and h.best_epoch == best
    assert 0 < best < h.epochs - 1 and h.epochs == best + 3 + 1
    assert h.val_loss[-1] > h.val_loss[best]
    assert_bitwise_equal(net.params, seen[best])
    assert not np.array_equal(net.params, seen[-1])


def test_early_stopping_without_validation_watches_the_training_loss():
    X, T = dataset("rows", n=16, n_out=2)
    h = regression_net().fit(X, T, epochs=5, batch_size=16, lr=0.1, progress=False, early_stopping=True)
    assert h.best_epoch == 4 and not h.stopped_early


def test_callbacks_get_epoch_logs_and_net_and_can_stop():
    X, T = dataset("labels", n=12)
    Xv, Tv = dataset("labels", n=6, seed=30)
    net = Network(mlp(), loss="softmax_cross_entropy", seed=0)
    calls = []

    def record(epoch, logs, n):
        calls.append((epoch, dict(logs), n))

    h = net.fit(X, T, epochs=10, progress=False, validation_data=(Xv, Tv),
                callbacks=[record, lambda epoch, logs, n: epoch == 2])
    assert h.epochs == 3 and [c[0] for c in calls] == [0, 1, 2]
    assert all(c[2] is net for c in calls)
    assert set(calls[0][1]) == {"loss", "val_loss", "val_accuracy", "seconds"}
    assert [c[1]["loss"] for c in calls] == h.loss
    assert [c[1]["val_loss"] for c in calls] == h.val_loss


def test_progress(capsys):
    X, T = dataset("rows", n=8, n_out=2)
    regression_net().fit(X, T, epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    regression_net().fit(X, T, epochs=2, progress=True)
    captured = capsys.readouterr()
    assert "loss" in captured.out + captured.err


# --- bad input: raised before training, nothing changed ---------------------------------------------


def _nan_x():
    X, _ = dataset("labels", n=6)
    X[3, 1] = np.nan
    return X


def _nan_t():
    T = np.zeros((6, 3))
    T[2, 0] = np.inf
    return T


X6, T6 = dataset("labels", n=6)
BAD_FIT = [
    # (overrides of fit's arguments, exception, fragment of the message)
    (dict(X=X6[:, :3]), ValueError, "X must have shape (n, 4), got (6, 3)"),
    (dict(X=X6.ravel()), ValueError, "X must have shape (n, 4), got (24,)"),
    (dict(X=X6[:0], T=T6[:0]), ValueError, "X is empty: it has 0 samples"),
    (dict(X=_nan_x()), ValueError, "X contains a non-finite value (nan) at index (3, 1)"),
    (dict(X=[["a"] * 4] * 6), TypeError, "X must be a numeric array of shape (n, 4)"),
    (dict(T=_nan_t()), ValueError, "T contains a non-finite value (inf) at index (2, 0)"),
    (dict(T=T6[:5]), ValueError, "T must hold one label per sample: 6 expected, got 5"),
    (dict(T=np.zeros((6, 2))), ValueError, "T must have shape (6,) class labels or (6, 3), got (6, 2)"),
    (dict(T=np.array([0, 1, 2, 3, 0, 1])), ValueError, "T label 3 is out of range for 3 classes (0..2)"),
    (dict(T=np.array([0, 1, -1, 2, 0, 1])), ValueError, "T label -1 is out of range"),
    (dict(T=np.array([0, 1, 1.5, 2, 0, 1])), ValueError, "T class labels must be whole numbers, found [1.5]"),
    (dict(T=np.array([0, 1, np.nan, 2, 0, 1])), ValueError, "T class labels must be whole numbers"),
    (dict(T=np.full((6, 3), 0.5)), ValueError, "target rows must sum to 1"),
    (dict(T=np.array(list("abcabc"))), TypeError, "T must be numeric"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
    (dict(batch_size=2.5), ValueError, "batch_size must be a positive integer, got 2.5"),
    (dict(epochs=-1), ValueError, "epochs must be a non-negative integer, got -1"),
    (dict(epochs=1.5), ValueError, "epochs must be a non-negative integer"),
    (dict(lr=0.0), ValueError, "lr must be > 0, got 0.0"),
    (dict(lr=-0.1), ValueError, "lr must be > 0"),
    (dict(lr=float("nan")), ValueError, "lr must be finite"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(lr=1e39), ValueError, "lr must be finite in float32"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer must be 'sgd' or 'adam', got 'rmsprop'"),
    (dict(momentum=1.0), ValueError, "momentum must be a number in [0, 1), got 1.0"),
    (dict(momentum=-0.1), ValueError, "momentum must be a number in [0, 1)"),
    (dict(nesterov="yes"), TypeError, "nesterov must be True or False"),
    (dict(optimizer="adam", beta1=1.0), ValueError, "beta1 must be a number in [0, 1)"),
    (dict(optimizer="adam", eps=0), ValueError, "eps must be a number > 0"),
    (dict(weight_decay=-1e-3), ValueError, "weight_decay must be a finite number >= 0"),
    (dict(weight_decay=float("inf")), ValueError, "weight_decay must be a finite number >= 0"),
    (dict(validation_data=X6), TypeError, "validation_data must be a tuple (X_val, T_val)"),
    (dict(validation_data=(X6,)), TypeError, "validation_data must be a tuple (X_val, T_val)"),
    (dict(validation_data=(X6[:, :2], T6)), ValueError, "validation_data[0] must have shape (n, 4)"),
    (dict(validation_data=(X6, T6[:4])), ValueError, "validation_data[1] must hold one label per sample"),
    (dict(validation_data=(X6, T6 + 5)), ValueError, "validation_data[1] label"),
    (dict(patience=0, early_stopping=True), ValueError, "patience must be a positive integer"),
    (dict(min_delta=-1), ValueError, "min_delta must be a finite number >= 0"),
    (dict(callbacks=[print, 3]), TypeError, "callbacks must be callables, got 3"),
]


@pytest.mark.parametrize("overrides, exc, fragment", BAD_FIT, ids=[f[2][:40] for f in BAD_FIT])
@pytest.mark.parametrize("form", FORMS)
def test_fit_rejects_bad_input_before_training(form, overrides, exc, fragment):
    net = Network(mlp(), loss="softmax_cross_entropy", form=form, seed=0)
    net.train_step(X6, T6, lr=0.1, momentum=0.9)  # some optimizer state to keep
    before, state, steps = net.params.copy(), net._state.copy(), net.step_count
    calls = []
    kwargs = dict(X=X6, T=T6, epochs=2, batch_size=3, lr=0.1, progress=False,
                  callbacks=[lambda *a: calls.append(a)])
    kwargs.update(overrides)
    with pytest.raises(exc, match=re.escape(fragment)):
        net.fit(kwargs.pop("X"), kwargs.pop("T"), **kwargs)
    assert_params_unchanged(net, before)
    assert calls == []
    # train_step validates the same way
    step_args = {k: v for k, v in overrides.items() if k in ("X", "T", "lr", "optimizer", "momentum", "nesterov",
                                                             "beta1", "eps", "weight_decay")}
    if step_args:
        args = dict(X=X6, T=T6, lr=0.1, momentum=0.9)
        args.update(step_args)
        with pytest.raises(exc, match=re.escape(fragment)):
            net.train_step(args.pop("X"), args.pop("T"), **args)
        assert_params_unchanged(net, before)
    if not overrides.keys() & {"optimizer", "momentum", "beta1", "eps"}:
        assert_bitwise_equal(net._state, state)
        assert net.step_count == steps


def test_epochs_zero_trains_nothing():
    net = regression_net()
    before = net.params.copy()
    h = net.fit(*dataset("rows", n=4, n_out=2), epochs=0, progress=False)
    assert h.epochs == 0
    assert_params_unchanged(net, before)


# --- divergence -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_diverging_fit_raises_and_keeps_the_last_finite_parameters(form, dtype):
    X, T = dataset("rows", n=12, n_out=2)
    X = 3 * X
    kw = dict(lr=30.0, optimizer="sgd")
    net = Network([Dense(N_IN, 2)], form=form, dtype=dtype, seed=0)
    with pytest.raises(FloatingPointError, match="training diverged") as info:
        net.fit(X, T, epochs=1000, batch_size=4, shuffle=False, progress=False, **kw)
    assert np.isfinite(net.params).all()
    # the same steps, one at a time, in a copy: the last finite ones
    copy = Network([Dense(N_IN, 2)], form=form, dtype=dtype, seed=0)
    steps = 0
    with pytest.raises(FloatingPointError, match="the step was not applied"):
        while True:
            k = 4 * (steps % 3)
            before = copy.params.copy()
            copy.train_step(X[k:k + 4], T[k:k + 4], **kw)
            steps += 1
    assert steps >= 3, "diverged at once: the test would not see a finite step"
    assert_params_unchanged(copy, before)
    assert_bitwise_equal(net.params, copy.params)
    assert net.step_count == copy.step_count == steps
    assert info.value.history.epochs == steps // 3


@pytest.mark.parametrize("form", FORMS)
def test_a_huge_weight_makes_the_step_raise_and_change_nothing(form):
    net = regression_net(form, dtype="float32")
    X, T = dataset("rows", n=6, n_out=2, dtype=np.float32)
    net.layers[-1].w[0, 0] = 1e30  # the output is ~1e30: its square overflows float32
    before = net.params.copy()
    with pytest.raises(FloatingPointError, match="not finite"):
        net.train_step(X, T, lr=0.1)
    assert_params_unchanged(net, before)
    assert net.step_count == 0
    with pytest.raises(FloatingPointError) as info:
        net.fit(X, T, epochs=3, progress=False)
    assert info.value.history.epochs == 0
    assert_params_unchanged(net, before)


def test_a_non_finite_gradient_with_a_finite_loss_is_not_applied():
    # softmax cross-entropy stays finite for huge logits (it is ~|z|), but its gradient
    # times a huge input overflows: caught in the gradients, not in the loss
    net = Network([Dense(2, 2)], loss="softmax_cross_entropy", reduction="sum", dtype="float32", seed=0)
    X = np.array([[3e38, 0.0], [3e38, 0.0]], dtype=np.float32)
    T = np.array([1, 1])
    net.layers[0].w = [[1e-30, -1e-30], [0.0, 0.0]]  # logits ±3e8: loss 6e8 per sample
    before = net.params.copy()
    assert np.isfinite(net.loss(X, T))
    with pytest.raises(FloatingPointError):  # dw = Σ_n x dz = 2 · 3e38 overflows
        net.train_step(X, T, lr=0.1)
    assert_params_unchanged(net, before)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("optimizer", [dict(optimizer="sgd", lr=1e30), dict(optimizer="sgd", momentum=0.9, lr=1e30),
                                       dict(optimizer="adam", lr=1e-3)])
def test_step_whose_update_overflows_is_not_applied(form, optimizer):
    # loss (1e24) and gradients (1e24) are finite in float32, but lr·g overflows for
    # SGD, and g² (Adam's second moment) overflows for Adam: the step must be refused
    # before anything is written, optimizer state included
    net = Network([Dense(2, 1)], form=form, dtype="float32", seed=0)
    X = np.full((4, 2), 1e12, np.float32)
    T = np.zeros((4, 1), np.float32)
    net.train_step(X * 0, T, **optimizer)  # a harmless first step creates the optimizer state
    params, state = net.params.copy(), None if net._state is None else net._state.copy()
    assert np.isfinite(net.loss(X, T)) and all(np.isfinite(g).all() for pair in net.gradients(X, T) for g in pair)
    with pytest.raises(FloatingPointError, match="not applied"):
        net.train_step(X, T, **optimizer)
    assert np.array_equal(net.params, params)
    if state is not None:
        assert np.array_equal(net._state, state)
    assert net.step_count == 1


@pytest.mark.parametrize("form", FORMS)
def test_trainer_explicit_order_and_decay_per_batch_size(form):
    # an explicit order of 10 samples in batches of 4: batches of 4, 4 and 2, the last
    # decayed with λ/2, the others with λ/4; the same steps taken one by one agree
    from fastnn import Trainer

    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 3))
    y = rng.standard_normal((10, 2))
    order = rng.permutation(10)
    nets = [Network([Dense(3, 2)], form=form, dtype="float64", seed=0) for _ in range(2)]
    trainer = Trainer(nets[0], X, y, batch_size=4, lr=0.1, weight_decay=0.4, decay_per_batch_size=True)
    loss = trainer.epoch(order)
    expected = 0.0
    for start in range(0, 10, 4):
        rows = order[start:start + 4]
        expected += nets[1].train_step(X[rows], y[rows], lr=0.1, weight_decay=0.4 / len(rows)) * len(rows)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-13, atol=1e-15)
    assert loss == pytest.approx(expected / 10, rel=1e-13)
    with pytest.raises(ValueError, match="outside 0..9"):
        trainer.epoch(np.array([0, 10]))
    with pytest.raises(ValueError, match="sample indices"):
        trainer.epoch(np.array([0.5]))


@pytest.mark.parametrize("shuffle", [False, True])
def test_repeated_epochs_and_steps_run(shuffle):
    # regression: a read-only hyper-parameter vector, shared between steps, made the
    # cached epoch kernel crash the process (segfault); several epochs and steps in a
    # row must run and keep learning
    from fastnn import Trainer

    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 64)).astype(np.float32)
    y = np.argmax(X[:, :10], axis=1)
    net = Network([Dense(64, 128), ReLU(), Dense(128, 10)], loss="softmax_cross_entropy", seed=0)
    trainer = Trainer(net, X, y, batch_size=32, lr=0.1, seed=0, shuffle=shuffle)
    losses = [trainer.epoch() for _ in range(3)]
    losses += [net.train_step(X[:32], y[:32], lr=0.1) for _ in range(3)]
    assert all(np.isfinite(losses)) and losses[2] < losses[0]
