"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in counterparts of :mod:`sklearn.neural_network`'s estimators of the same names
(same parameters, defaults and fitted attributes) whose epochs run as fastnn calls
(one compiled call per epoch with ``form="loops"``).  Needs scikit-learn
(``pip install "fastnn[sklearn]"``).

How the two correspond (initialization, shuffling, loss scaling, ``alpha``, the
binary case, multi-label targets, L-BFGS and what is not supported) is written
out in docs/sklearn.md, with scikit-learn's ``_multilayer_perceptron.py`` and
``_stochastic_optimizers.py`` as the reference.
"""

import numbers
from numbers import Integral, Real
import threading
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state, column_or_1d, shuffle
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as err:  # pragma: no cover - exercised without scikit-learn only
    raise ImportError(
        "fastnn.sklearn needs scikit-learn >= 1.6; install it with "
        'pip install "fastnn[sklearn]"') from err

from . import _lbfgs
from .layers import ReLU, Sigmoid, Tanh, dense_stack
from .network import Network
from .train import Trainer

_LOCK_GUARD = threading.Lock()

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATIONS = {"identity": None, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}
_FLOATS = (np.float64, np.float32)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check(ok, name, value, want):
    if not ok:
        raise ValueError(f"{name} must be {want}, got {value!r}")


def _stochastic_solver(estimator):
    # partial_fit exists for 'sgd' and 'adam' only, as in scikit-learn
    if estimator.solver == "lbfgs":
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {estimator.solver} is not "
                             "stochastic.")
    return True


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, training loop, state."""

    _squared = False  # a squared-error regressor: its loss and gradient are scaled apart

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 form="loops", dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.form = form
        self.dtype = dtype

    # -- parameters -------------------------------------------------------------------

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        for size in sizes:
            _check(_is_int(size) and size > 0, "hidden_layer_sizes", self.hidden_layer_sizes,
                   "positive integers")
        return [int(s) for s in sizes]

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # fastnn's momentum rule needs momentum < 1 (scikit-learn allows 1)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "form": [StrOptions({"loops", "matrix"})],
        "dtype": [None, StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64}),
                  Options(np.dtype, {np.dtype(np.float32), np.dtype(np.float64)})],
    }

    def _validate_params(self):
        # scikit-learn's check of _parameter_constraints, then what it cannot say
        super()._validate_params()
        return self._hidden()

    # -- the network ------------------------------------------------------------------

    def _build(self, n_in, n_out, dtype):
        layers = dense_stack([n_in] + self._hidden() + [n_out], _ACTIVATIONS[self.activation])
        if self._is_classifier:  # logistic outputs for two classes or multi-label data, as scikit-learn's
            loss = "sigmoid_cross_entropy" if self._multilabel or n_out == 1 else "softmax_cross_entropy"
        else:
            loss = "mse" if self._squared else "poisson"
        self._net = Network(layers, loss=loss, form=self.form, dtype=dtype, seed=0)
        self._net_args = (n_in, n_out, np.dtype(dtype).name)
        self._opt_lr = float(self.learning_rate_init)

    def _init_params(self, rng, widths):
        """scikit-learn's initialization, from the same random stream."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        for layer, (fan_in, fan_out) in zip(self._net.dense_layers, zip(widths[:-1], widths[1:])):
            bound = np.sqrt(factor / (fan_in + fan_out))
            w = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
            layer.w, layer.b = w, b

    @property
    def _binary(self):
        return self._is_classifier and self.n_outputs_ == 1

    def _layer_arrays(self, attr):
        check_is_fitted(self, "_net")
        return [getattr(layer, attr) for layer in self._net.dense_layers]

    coefs_ = property(lambda self: self._layer_arrays("w"),
                      lambda self, values: self._assign(self._layer_arrays("w"), values, "coefs_"),
                      doc="Weights of each layer, shape (n_in, n_out): views of the network's weights.")
    intercepts_ = property(lambda self: self._layer_arrays("b"),
                           lambda self, values: self._assign(self._layer_arrays("b"), values, "intercepts_"),
                           doc="Biases of each layer, shape (n_out,), like :attr:`coefs_`.")

    def _assign(self, targets, values, name):
        values = list(values)
        if len(values) != len(targets):
            raise ValueError(f"{name} must hold {len(targets)} arrays, got {len(values)}")
        for k, (target, value) in enumerate(zip(targets, values)):
            value = np.asarray(value, dtype=np.float64)
            if value.shape != target.shape:
                raise ValueError(f"{name}[{k}] must have shape {target.shape}, got {value.shape}")
            target[...] = value

    # -- training -----------------------------------------------------------------------

    def _fit(self, X, y, incremental):
        # one fit or partial_fit of an estimator at a time: a second call from another
        # thread waits for the first (the lock is made on first use: until it is
        # fitted, a scikit-learn estimator holds its parameters only)
        with _LOCK_GUARD:
            lock = self.__dict__.setdefault("_fit_lock", threading.RLock())
        with lock:
            return self._fit_alone(X, y, incremental)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fit_lock", None)  # a lock cannot be pickled; a copy makes its own
        return state

    def _fit_alone(self, X, y, incremental):
        self._validate_params()
        first_pass = not hasattr(self, "_net") or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        dtype = _FLOATS if self.dtype is None else np.dtype(self.dtype)
        X, y = validate_data(self, X, y, multi_output=True, dtype=dtype, y_numeric=not self._is_classifier,
                             reset=first_pass)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets, n_outputs = self._encode(y, first_pass, incremental)
        rng = check_random_state(self.random_state)
        if first_pass:
            hidden = self._hidden()
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(hidden) + 2
            self.out_activation_ = self._out_activation()
            self._build(X.shape[1], n_outputs, X.dtype)
            self._init_params(rng, [X.shape[1]] + hidden + [n_outputs])
            self.n_iter_ = self.t_ = 0
            if self.solver != "lbfgs":  # as in scikit-learn: a stochastic solver's record only
                self.loss_curve_ = []
                self._no_improvement_count = 0
                self._best_params = self._net.params.copy()
                if self.early_stopping:
                    self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
                else:
                    self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf
        elif n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} outputs but the model was fitted with {self.n_outputs_}")
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, targets)
            return self
        if not incremental or not hasattr(self, "_opt_lr"):
            self._net.reset_optimizer()
            self._opt_lr = float(self.learning_rate_init)
        self._fit_stochastic(X, y, targets, rng, incremental)
        return self

    def _fit_lbfgs(self, X, targets):
        """Full-batch L-BFGS on scikit-learn's objective: the mean loss (cross-entropy,
        or half the mean squared error) plus ``½ alpha ‖W‖² / n`` (docs/sklearn.md
        says why the regressor's gradient is scaled apart)."""
        n = X.shape[0]
        if not self._squared:
            scales = dict(scale=1.0, weight_decay=self.alpha / n)
        else:
            k = self.n_outputs_
            scales = dict(scale=0.5, value_decay=2 * self.alpha / n, grad_scale=k / 2, weight_decay=2 * self.alpha / (n * k))
        try:
            result = _lbfgs.minimize(self._net, self._net.training_data(X, targets), max_iter=self.max_iter,
                                     max_fun=self.max_fun, tol=self.tol, **scales)
        except FloatingPointError:
            raise ValueError("L-BFGS diverged: the loss is not finite. The parameters are those it started "
                             "from. Scale the inputs (and targets).") from None
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)

    def _fit_stochastic(self, X, y, targets, rng, incremental):
        net = self._net
        if self.early_stopping:
            # scikit-learn stratifies binary problems only, on its binarized labels
            stratify = (targets == 1) if self._binary else None  # (n, 1), as its labels
            train, val = train_test_split(np.arange(X.shape[0]), random_state=rng,
                                          test_size=self.validation_fraction, stratify=stratify)
            if val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            X_val, y_val = X[val], y[val]
            X, targets = X[train], targets[train]
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch = min(self.batch_size, n)
        # scikit-learn's gradient is `scale` times fastnn's (docs/sklearn.md)
        scale = self.n_outputs_ / 2.0 if self._squared else 1.0
        trainer = Trainer(net, X, targets, batch_size=batch, lr=self.learning_rate_init,
                          optimizer=self.solver,
                          momentum=self.momentum if self.solver == "sgd" else 0.0,
                          nesterov=bool(self.nesterovs_momentum), beta1=self.beta_1, beta2=self.beta_2,
                          eps=self.epsilon / scale if self.solver == "adam" else self.epsilon,
                          weight_decay=self.alpha / scale, shuffle=False, decay_per_batch_size=True)
        order = np.arange(n, dtype=np.intp)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            if self.shuffle:
                order = shuffle(order, random_state=rng)
            data_loss, penalty = self._epoch(trainer, order, batch, scale)
            self.n_iter_ += 1
            self.loss_ = data_loss + penalty
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            if self.early_stopping:
                self._update_no_improvement(X_val, y_val)
            else:
                self._update_no_improvement()
            if self.learning_rate == "invscaling":
                self._opt_lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if self.early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if self.solver == "sgd" and self.learning_rate == "adaptive" and self._opt_lr > 1e-6:
                    self._opt_lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(msg + " Setting learning rate to %f" % self._opt_lr)
                else:
                    if self.verbose:
                        print(msg + " Stopping.")
                    break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                              "the optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            net.params[...] = self._best_params

    def _epoch(self, trainer, order, batch, scale):
        """One pass over ``order``, each batch decayed with alpha / its size (the
        smaller last one too).  Returns (data loss, L2 penalty) on scikit-learn's scale."""
        n = order.shape[0]
        sq_start = self._sq_weights()
        trainer.lr = self._opt_lr * scale if self.solver == "sgd" else self._opt_lr
        try:
            loss = trainer.epoch(order)
        except FloatingPointError:
            raise ValueError(
                f"Training diverged in epoch {self.n_iter_ + 1}: a batch gave a non-finite loss or "
                "update. The parameters are those of the last finite step. Scale the inputs "
                "(and targets) or lower learning_rate_init.") from None
        data_loss = loss / (2.0 if self._squared else 1.0)
        n_batches = -(-n // batch)
        penalty = 0.5 * self.alpha * n_batches * (sq_start + self._sq_weights()) / 2 / n
        return data_loss, penalty

    def _sq_weights(self):
        return float(sum(np.dot(l.w.ravel(), l.w.ravel()) for l in self._net.dense_layers))

    def _update_no_improvement(self, X_val=None, y_val=None):
        if X_val is not None:
            score = self._score(X_val, y_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._net.params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _checked(self, X):
        check_is_fitted(self, "_net")
        return validate_data(self, X, dtype=_FLOATS, reset=False)

    def _outputs(self, X):
        X = self._checked(X)  # first: an unfitted estimator has no network
        return self._net.predict(X)

    def fit(self, X, y):
        """Fit the model to data matrix X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or real numbers (regression).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier trained by fastnn, compatible with
    :class:`sklearn.neural_network.MLPClassifier`.

    Parameters are scikit-learn's (same names, defaults and meanings; ``solver`` is
    "sgd", "adam" or "lbfgs"), plus ``form`` ("loops" or "matrix": which fastnn
    implementation trains) and ``dtype`` (None keeps float32 input in float32 and
    uses float64 otherwise; or "float32" / "float64").  docs/sklearn.md says how the
    training corresponds to scikit-learn's, and what is not supported.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, coefs_, intercepts_, loss_,
    loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_,
    n_layers_, n_outputs_, out_activation_
        As in scikit-learn.
    """

    _is_classifier = True

    def _out_activation(self):
        return "logistic" if self.n_outputs_ == 1 or self._multilabel else "softmax"

    def _encode(self, y, first_pass, incremental):
        if type_of_target(y).startswith("multilabel"):
            # independent logistic outputs with binary cross-entropy, as scikit-learn's
            if first_pass:
                self.classes_, self._multilabel = np.arange(y.shape[1]), True
            elif not self._multilabel or y.shape[1] != len(self.classes_):
                fitted = f"{len(self.classes_)} labels" if self._multilabel else "class labels"
                raise ValueError(f"y is a multi-label indicator of {y.shape[1]} labels; the model was fitted on {fitted}")
            return y.astype(np.float64), y.shape[1]
        if first_pass:
            self._multilabel = False
        elif self._multilabel:
            raise ValueError("the model was fitted on multi-label indicators; y must be one too")
        check_classification_targets(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
        if first_pass and not incremental:
            self.classes_ = np.unique(y)
        elif self.warm_start and not incremental and set(np.unique(y)) != set(self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                             f"previous call to fit. Previously got {self.classes_}, `y` has {np.unique(y)}")
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{self.classes_}. 'y' has {np.unique(y)}.")
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 classes to train, but y has only one "
                             f"class: {self.classes_[0]!r}")
        labels = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:  # one logistic output: the target is 1 for classes_[1]
            return labels.astype(np.float64).reshape(-1, 1), 1
        return labels.astype(np.intp), len(self.classes_)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, classes=None):
        """Update the model with one epoch over (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Every class of the problem; required on the first call.

        Returns
        -------
        self
        """
        if not hasattr(self, "_net"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(np.asarray(classes))
        elif classes is not None and not np.array_equal(self.classes_, np.unique(classes)):
            raise ValueError(f"`classes={np.unique(classes)}` is not the same as on last call to "
                             f"partial_fit, was: {self.classes_}")
        return self._fit(X, y, incremental=True)

    def _score(self, X, y):
        return accuracy_score(y, self._predict(X))

    def _predict(self, X):
        if self._multilabel:  # scikit-learn's threshold: a probability above 1/2
            return (self._net.predict_proba(X) > 0.5).astype(int)
        if self._binary:
            return self.classes_[(self._net.predict_proba(X)[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(self._net.predict(X), axis=1)]

    def predict(self, X):
        """Predicted class of each sample, shape (n_samples,); for multi-label data the
        indicator matrix, shape (n_samples, n_labels)."""
        return self._predict(self._checked(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in the order of
        ``classes_``; for multi-label data each label's probability."""
        X = self._checked(X)  # first: an unfitted estimator has no network
        p = self._net.predict_proba(X)  # the network's softmax or sigmoid, in its form
        return np.hstack([1 - p, p]) if self._binary else p

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        p = self.predict_proba(X)
        return np.log(p, out=p)


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor trained by fastnn, compatible with
    :class:`sklearn.neural_network.MLPRegressor`.

    Parameters and attributes are those of :class:`MLPClassifier`, without ``classes_``,
    plus ``loss``: "squared_error" (half the mean squared error, identity output) or
    "poisson" (half the Poisson deviance with a log link: the network outputs the log
    of the mean, ``out_activation_ = "exp"``, and targets must be >= 0).
    ``predict`` returns the network's dtype (float32 for float32 input with ``dtype=None``).
    """

    _is_classifier = False
    _parameter_constraints = dict(_BaseMLP._parameter_constraints, loss=[StrOptions({"squared_error", "poisson"})])

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, form="loops", dtype=None):
        # scikit-learn reads the parameters off this signature: every one is listed
        super().__init__(**{name: value for name, value in locals().items() if name not in ("self", "loss", "__class__")})
        self.loss = loss

    @property
    def _squared(self):
        return self.loss == "squared_error"

    def _out_activation(self):
        return "identity" if self._squared else "exp"

    def _encode(self, y, first_pass, incremental):
        t = y.reshape(-1, 1) if y.ndim == 1 else y
        if not self._squared and t.size and t.min() < 0:
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        return t, t.shape[1]

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y):
        """Update the model with one epoch over (X, y); returns self."""
        return self._fit(X, y, incremental=True)

    def _score(self, X, y):
        return r2_score(y, self._mean(self._net.predict(X)).reshape(np.shape(y)))

    def _mean(self, out):
        return out if self._squared else np.exp(out, out=out)  # the log link's inverse

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        y = self._mean(self._outputs(X))
        return y.ravel() if y.shape[1] == 1 else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
