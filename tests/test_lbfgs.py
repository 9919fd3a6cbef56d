"""Full-batch L-BFGS (fastnn/_lbfgs.py): Network.fit(optimizer="lbfgs"), the
compiled loss-and-gradient call it evaluates, and the estimators' solver="lbfgs"
against scikit-learn's own."""

import warnings

import numpy as np
import pytest

from conftest import assert_bitwise_equal, data, labels
from fastnn import Dense, Network, ReLU, Tanh, dense_stack

pytest.importorskip("scipy")

FORMS = ("loops", "matrix")


def _digits():
    from fastnn.data import load_digits

    X, y = load_digits()
    return X / 16, y


def _net(form, dtype="float64", seed=0, widths=(64, 32, 10)):
    return Network(dense_stack(widths, ReLU), loss="softmax_cross_entropy", form=form, dtype=dtype, seed=seed)


@pytest.mark.parametrize("form", FORMS)
def test_loss_and_gradient_is_the_loss_and_the_gradients(form):
    x, t = data((40, 6), np.float64, 1), labels(40, 4, 2)
    net = Network([Dense(6, 9), Tanh(), Dense(9, 4)], loss="softmax_cross_entropy", form=form, dtype="float64",
                  seed=3)
    loss, grad = net.loss_and_gradient(net.training_data(x, t), weight_decay=0.25)
    assert loss == pytest.approx(net.loss(x, t), rel=1e-14)
    for (dw, db), layer in zip(net.gradients(x, t, weight_decay=0.25), net.dense_layers):
        w_at = (layer.w.ctypes.data - net.params.ctypes.data) // 8
        b_at = (layer.b.ctypes.data - net.params.ctypes.data) // 8
        assert_bitwise_equal(grad[w_at:w_at + dw.size], dw.ravel())
        assert_bitwise_equal(grad[b_at:b_at + db.size], db)
    padding = np.ones(net.params.size, bool)
    for layer in net.dense_layers:
        for a in (layer.w, layer.b):
            at = (a.ctypes.data - net.params.ctypes.data) // 8
            padding[at:at + a.size] = False
    assert not grad[padding].any()
    with pytest.raises(ValueError, match="this network's training_data"):
        net.loss_and_gradient((x, t))


@pytest.mark.parametrize("form", FORMS)
def test_fit_lbfgs_trains_digits(form):
    X, y = _digits()
    net = _net(form)
    history = net.fit(X, y, optimizer="lbfgs", max_iter=60, progress=False, validation_data=(X[:100], y[:100]))
    assert 1 <= history.epochs <= 60 and len(history.val_loss) == history.epochs
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert np.mean(net.predict_classes(X) == y) > 0.97
    assert net.loss(X, y) == pytest.approx(history.loss[-1], rel=1e-12)


def test_both_forms_follow_the_same_trajectory():
    X, y = _digits()
    nets = [_net(form) for form in FORMS]
    for net in nets:
        net.fit(X, y, optimizer="lbfgs", max_iter=15, weight_decay=1e-3, progress=False)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=0, atol=1e-9)


def test_callbacks_stop_and_bad_settings_are_refused():
    X, y = _digits()
    net = _net("loops")
    history = net.fit(X, y, optimizer="lbfgs", max_iter=50, progress=False, callbacks=[lambda epoch, logs, n: epoch == 3])
    assert history.epochs == 4
    assert net.loss(X, y) == pytest.approx(history.loss[-1], rel=1e-12)
    before = net.params.copy()
    for kwargs, fragment in [({"early_stopping": True}, "early_stopping is not available"),
                             ({"max_iter": 0}, "max_iter must be a positive integer"),
                             ({"max_fun": 1.5}, "max_fun must be a positive integer"),
                             ({"tol": -1.0}, "tol must be a finite number >= 0"),
                             ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0")]:
        with pytest.raises(ValueError, match=fragment):
            net.fit(X, y, optimizer="lbfgs", progress=False, **kwargs)
    assert_bitwise_equal(net.params, before)


def test_a_diverging_start_is_refused_and_the_parameters_kept():
    X, y = _digits()
    net = _net("loops", dtype="float32")
    net.layers[0].w = np.full((64, 32), 3e38, np.float32)  # every activation overflows to inf
    before = net.params.copy()
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        net.fit(X, y, optimizer="lbfgs", progress=False)
    assert_bitwise_equal(net.params, before)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimators_follow_scikit_learns_lbfgs(kind):
    sk = pytest.importorskip("sklearn.neural_network")
    from fastnn import sklearn as fk

    X, y = _digits()
    if kind == "classifier":
        pair, target = (sk.MLPClassifier, fk.MLPClassifier), y
    else:  # two outputs: scikit-learn's gradient is twice that of the loss it reports
        pair, target = (sk.MLPRegressor, fk.MLPRegressor), np.stack([y / 9, (y % 3) / 2], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, ours = (cls(hidden_layer_sizes=(40,), solver="lbfgs", alpha=1e-3, max_iter=25, random_state=0)
                        .fit(X, target) for cls in pair)
    assert ours.n_iter_ == theirs.n_iter_ == 25
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    assert not hasattr(ours, "loss_curve_") and not hasattr(ours, "partial_fit")


def test_binary_classifier_lbfgs_is_as_accurate_as_scikit_learns():
    sk = pytest.importorskip("sklearn.neural_network")
    from fastnn import sklearn as fk
    from fastnn.data import train_test_split

    X, y = _digits()
    Xtr, Xte, ytr, yte = train_test_split(X, (y >= 5).astype(int), seed=0)
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cls in (sk.MLPClassifier, fk.MLPClassifier):
            scores.append(cls(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=200, random_state=0)
                          .fit(Xtr, ytr).score(Xte, yte))
    assert scores[1] >= scores[0] - 0.015, scores
