"""fastnn.sklearn: scikit-learn's estimator checks, step-for-step agreement with
sklearn.neural_network (same random_state: same initialization, batches and updates),
and accuracy / R^2 parity on real problems."""

import pickle
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as sk  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastnn.data import load_digits, train_test_split  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# max_iter=200, scikit-learn's default: with 100, its own MLPClassifier fails
# check_classifiers_train's binary problem (0.83 accuracy), and so does this one
# since it follows the same trajectory
@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0),
                          MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, random_state=0),
                          MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=50, random_state=0),
                          MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=50, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    X /= 16
    return train_test_split(X, y, seed=0)


def regression_data(n=600, n_outputs=1, seed=0):
    """A smooth nonlinear function of 8 inputs, standardized."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8))
    W = rng.standard_normal((8, n_outputs))
    y = np.sin(X @ W) + 0.5 * (X[:, :1] ** 2) + 0.05 * rng.standard_normal((n, n_outputs))
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    return X, (y.ravel() if n_outputs == 1 else y)


def assert_same_model(ours, theirs, atol):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(ours, name), getattr(theirs, name)):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=name)
    # loss_ approximates the value of the L2 term within an epoch (module docs)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7 + theirs.alpha / 10)


# Step-for-step agreement: every option that changes an update, with a last batch
# smaller than the others (n_train = 1347, batch 100) so alpha's per-batch scaling shows.
SETTINGS = [
    dict(solver="adam"),
    dict(solver="adam", alpha=0.1, activation="tanh"),
    dict(solver="sgd", learning_rate_init=0.1, alpha=0.1),
    dict(solver="sgd", learning_rate_init=0.05, nesterovs_momentum=False, learning_rate="invscaling"),
    dict(solver="sgd", momentum=0.0, learning_rate="adaptive", learning_rate_init=0.2, tol=1e-2,
         n_iter_no_change=1, activation="logistic"),
    dict(solver="adam", early_stopping=True, activation="identity"),
    dict(solver="sgd", shuffle=False, learning_rate_init=0.1, batch_size=1347),
]


@pytest.mark.parametrize("form", ["loops", "matrix"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_classifier_follows_sklearn(digits, settings, form):
    Xtr, _, ytr, _ = digits
    common = dict(hidden_layer_sizes=(24, 12), max_iter=6, random_state=1, batch_size=100)
    common.update(settings)
    theirs = sk.MLPClassifier(**common).fit(Xtr, ytr)
    ours = MLPClassifier(form=form, **common).fit(Xtr, ytr)
    assert_same_model(ours, theirs, atol=1e-10)
    assert ours.out_activation_ == "softmax" and ours.n_outputs_ == 10 and ours.n_layers_ == 4
    if common.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_ and ours.best_loss_ is None
    else:
        assert ours.validation_scores_ is None and ours.best_loss_ == min(ours.loss_curve_)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regressor_follows_sklearn(solver, n_outputs):
    X, y = regression_data(n=450, n_outputs=n_outputs)
    common = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=3, batch_size=64, alpha=0.01,
                  solver=solver, learning_rate_init=0.01)
    theirs = sk.MLPRegressor(**common).fit(X, y)
    ours = MLPRegressor(**common).fit(X, y)
    assert_same_model(ours, theirs, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-10)


def test_partial_fit_follows_sklearn(digits):
    Xtr, _, ytr, _ = digits
    common = dict(hidden_layer_sizes=(16,), random_state=0, batch_size=50, solver="sgd", learning_rate_init=0.1)
    ours, theirs = MLPClassifier(**common), sk.MLPClassifier(**common)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(Xtr, ytr)
    for start in (0, 400, 800):
        part = slice(start, start + 400)
        ours.partial_fit(Xtr[part], ytr[part], classes=np.arange(10))
        theirs.partial_fit(Xtr[part], ytr[part], classes=np.arange(10))
    assert_same_model(ours, theirs, atol=1e-10)


def test_warm_start_follows_sklearn(digits):
    Xtr, _, ytr, _ = digits
    common = dict(hidden_layer_sizes=(16,), random_state=0, max_iter=3, warm_start=True)
    ours, theirs = MLPClassifier(**common), sk.MLPClassifier(**common)
    for _ in range(2):
        ours.fit(Xtr, ytr)
        theirs.fit(Xtr, ytr)
    assert_same_model(ours, theirs, atol=1e-10)
    with pytest.raises(ValueError, match="same classes"):
        ours.fit(Xtr[ytr < 5], ytr[ytr < 5])


def test_digits_accuracy_parity(digits):
    Xtr, Xte, ytr, yte = digits
    common = dict(hidden_layer_sizes=(64,), max_iter=60, random_state=0)
    theirs = sk.MLPClassifier(**common).fit(Xtr, ytr).score(Xte, yte)
    ours = MLPClassifier(**common).fit(Xtr, ytr).score(Xte, yte)
    assert ours > 0.95
    assert abs(ours - theirs) <= 0.015


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_binary_follows_scikit_learn(digits, solver):
    """Binary problems train one logistic output with sigmoid cross-entropy, scikit-learn's
    model: the same trajectory, so the same weights up to rounding."""
    Xtr, Xte, ytr, yte = digits
    ytr, yte = np.where(ytr >= 5, "big", "small"), np.where(yte >= 5, "big", "small")
    common = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=20, random_state=0)
    theirs = sk.MLPClassifier(**common).fit(Xtr, ytr)
    ours = MLPClassifier(**common).fit(Xtr, ytr)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 1 and list(ours.classes_) == ["big", "small"]
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(Xte), theirs.predict_proba(Xte), rtol=0, atol=1e-9)
    assert np.array_equal(ours.predict(Xte), theirs.predict(Xte))
    assert ours.score(Xte, yte) == theirs.score(Xte, yte)
    # predict_proba is the logistic model of coefs_ and intercepts_
    z = np.maximum(Xte @ ours.coefs_[0] + ours.intercepts_[0], 0) @ ours.coefs_[1] + ours.intercepts_[1]
    np.testing.assert_allclose(ours.predict_proba(Xte)[:, 1], 1 / (1 + np.exp(-z[:, 0])), rtol=1e-10)


@pytest.mark.parametrize("solver, max_iter", [("adam", 5), ("sgd", 5), ("lbfgs", 25)])
def test_poisson_regressor_follows_scikit_learn(solver, max_iter):
    # loss="poisson": a log-link output (out_activation_ "exp"), half the Poisson
    # deviance; scikit-learn's trajectory, so the same weights up to rounding
    if "loss" not in sk.MLPRegressor().get_params():
        pytest.skip("scikit-learn's MLPRegressor has loss='poisson' from 1.7 on")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 8))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])).astype(float)
    common = dict(loss="poisson", hidden_layer_sizes=(20,), solver=solver, max_iter=max_iter, random_state=0,
                  learning_rate_init=0.01 if solver == "sgd" else 0.001)
    theirs, ours = sk.MLPRegressor(**common).fit(X, y), MLPRegressor(**common).fit(X, y)
    assert ours.out_activation_ == "exp" and ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        MLPRegressor(loss="poisson").fit(X, y - 1)


def test_regression_r2_parity():
    X, y = regression_data(n=1200)
    Xtr, Xte, ytr, yte = X[:900], X[900:], y[:900], y[900:]
    common = dict(hidden_layer_sizes=(32,), max_iter=200, random_state=0, learning_rate_init=0.01)
    theirs = sk.MLPRegressor(**common).fit(Xtr, ytr).score(Xte, yte)
    ours = MLPRegressor(**common).fit(Xtr, ytr).score(Xte, yte)
    assert ours > 0.8
    assert abs(ours - theirs) <= 0.02


def test_float32_stays_float32():
    X, y = regression_data(n=200)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5).fit(X.astype(np.float32), y)
    assert reg.predict(X).dtype == np.float32
    assert all(c.dtype == np.float32 for c in reg.coefs_ + reg.intercepts_)
    reg64 = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, dtype="float64").fit(X.astype(np.float32), y)
    assert reg64.predict(X).dtype == np.float64


def test_convergence_warning_and_stopping(digits):
    Xtr, _, ytr, _ = digits
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(Xtr, ytr)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, tol=0.5, n_iter_no_change=2).fit(Xtr, ytr)
    assert clf.n_iter_ < 500


@pytest.mark.parametrize("solver, max_iter", [("adam", 5), ("sgd", 5), ("lbfgs", 25)])
def test_multi_label_follows_scikit_learn(digits, solver, max_iter):
    # independent logistic outputs with binary cross-entropy: scikit-learn's model,
    # initialization and trajectory, so the same weights up to rounding
    Xtr, Xte, ytr, _ = digits
    Y = np.stack([ytr >= 5, ytr % 2 == 0, ytr % 3 == 0], axis=1).astype(int)
    theirs, ours = (cls(hidden_layer_sizes=(40,), solver=solver, max_iter=max_iter, random_state=0).fit(Xtr, Y)
                    for cls in (sk.MLPClassifier, MLPClassifier))
    assert ours.out_activation_ == "logistic" and list(ours.classes_) == [0, 1, 2]
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(Xte), theirs.predict_proba(Xte), rtol=0, atol=1e-10)
    assert np.array_equal(ours.predict(Xte), theirs.predict(Xte)) and ours.predict(Xte).shape == (len(Xte), 3)
    with pytest.raises(ValueError, match="multi-label indicator"):
        ours.partial_fit(Xtr, ytr) if solver != "lbfgs" else ours.set_params(warm_start=True).fit(Xtr, ytr)


def test_unsupported_settings(digits):
    Xtr, _, ytr, _ = digits
    with pytest.raises(ValueError, match="momentum"):
        MLPClassifier(solver="sgd", momentum=1.0).fit(Xtr, ytr)


def test_coefs_setter_and_pickle_keep_training(digits):
    Xtr, Xte, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(Xtr, ytr)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(Xte), clf.predict_proba(Xte))
    for model in (clf, copy):  # the optimizer's state survives pickling
        model.partial_fit(Xtr, ytr)
    np.testing.assert_array_equal(copy.predict_proba(Xte), clf.predict_proba(Xte))
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    assert not any(c.any() for c in clf.coefs_)
    with pytest.raises(ValueError, match="shape"):
        clf.intercepts_ = [np.zeros(3), np.zeros(3)]


def test_import_error_without_sklearn(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "fastnn.sklearn")
    with pytest.raises(ImportError, match=r'pip install "fastnn\[sklearn\]"'):
        import fastnn.sklearn  # noqa: F401
