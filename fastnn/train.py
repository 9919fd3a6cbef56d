"""Mini-batch training: :func:`fit`, the :class:`Trainer` it drives, and :class:`History`.

An epoch is one call of the backend's ``_train_epoch``: with ``form="loops"`` the
whole epoch (batching, forward, loss, backward, update, for every batch) runs as one
compiled call, with no Python per batch.  Data, targets and options are validated
once, before the first epoch; work buffers are allocated once per batch size.
"""

import math
import sys
import time

import numpy as np

from . import _checks

__all__ = ["History", "Trainer", "fit"]


class History:
    """What :func:`fit` measured, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Training loss of the epoch: the mean over its samples of the per-sample loss
        taken before each batch's update ("mean" reduction), or its sum ("sum").
    val_loss, val_accuracy : list of float
        Loss and accuracy (softmax cross-entropy only) on ``validation_data``
        after the epoch; empty without validation data.
    seconds : list of float
        Wall time of each epoch's training.
    best_epoch : int or None
        With early stopping, the epoch (from 0) whose parameters were restored.
    stopped_early : bool
    """

    def __init__(self):
        self.loss, self.val_loss, self.val_accuracy, self.seconds = [], [], [], []
        self.best_epoch = None
        self.stopped_early = False

    @property
    def epochs(self):
        """Number of epochs trained."""
        return len(self.loss)

    @property
    def history(self):
        """The per-epoch lists as a dict, Keras-style."""
        out = {"loss": self.loss, "seconds": self.seconds}
        if self.val_loss:
            out["val_loss"] = self.val_loss
        if self.val_accuracy:
            out["val_accuracy"] = self.val_accuracy
        return out

    def __repr__(self):
        last = f", loss={self.loss[-1]:.6g}" if self.loss else ""
        return f"History(epochs={self.epochs}{last})"


class Trainer:
    """Validated data and options for training a network epoch by epoch.

    :func:`fit` and :class:`fastnn.sklearn.MLPClassifier` use it; it is public for
    users who want their own epoch loop.  See :func:`fit` for the parameters.
    ``lr`` and ``weight_decay`` may be changed between epochs (a schedule).  It
    uses the network's public API only: :meth:`fastnn.Network.training_data` once,
    :meth:`fastnn.Network.train_epoch` per epoch.

    Parameters
    ----------
    decay_per_batch_size : bool, default False
        If True, a batch of n samples is decayed with ``weight_decay / n`` (the L2
        penalty ``½ λ ‖w‖²`` added to the batch's summed loss, scikit-learn's
        ``alpha``); the smaller last batch of an epoch gets its own, exact factor.
    """

    def __init__(self, net, X, T, batch_size=32, lr=0.01, optimizer="sgd", momentum=0.0,
                 nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 shuffle=True, seed=None, decay_per_batch_size=False):
        self.net = net
        self.data = net.training_data(X, T)
        self.batch_size = min(_checks.positive_int(batch_size, "batch_size"), len(self.data))
        self.optimizer, self.momentum, self.nesterov = optimizer, momentum, nesterov
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay
        self.decay_per_batch_size = bool(decay_per_batch_size)
        self.lr = lr
        net.check_optimizer(**self._settings())  # raises on a bad option before any training
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(seed)

    def _settings(self):
        return dict(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                    beta1=self.beta1, beta2=self.beta2, eps=self.eps, weight_decay=self.weight_decay)

    def epoch(self, order=None):
        """Train on the samples once, in batches; return the epoch's training loss.

        Parameters
        ----------
        order : array of int, optional
            The sample indices to visit, in order (each batch takes the next
            ``batch_size`` of them).  Default: a seeded permutation of all samples
            (or all in order, with ``shuffle=False``).

        Returns
        -------
        float
            The mean of the batches' losses weighted by their sizes ("mean"
            reduction), or their sum ("sum").

        Raises
        ------
        FloatingPointError
            If a batch's loss or update is not finite.  That batch's update is not
            applied: the parameters are those after the last finite step.
        """
        if order is None:
            n = len(self.data)
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        return self.net.train_epoch(self.data, order, self.batch_size, decay_per_batch_size=self.decay_per_batch_size,
                                    **self._settings())


def _evaluate(net, data):
    x, t = data
    loss = net.loss(x, t)
    accuracy = None
    if net.loss_name == "softmax_cross_entropy":
        labels = np.asarray(t)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        accuracy = float(np.mean(net.predict_classes(x) == labels))
    return loss, accuracy


class _Progress:
    """A per-epoch progress bar: tqdm when installed, else one line per epoch on stderr."""

    def __init__(self, epochs, enabled):
        self.bar = None
        self.enabled = enabled
        self.epochs = epochs
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=epochs, unit="epoch", leave=True)

    def update(self, epoch, logs):
        if not self.enabled:
            return
        text = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if v is not None)
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        else:
            print(f"epoch {epoch + 1}/{self.epochs} {text}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def fit(net, X, T, epochs=10, batch_size=32, lr=0.01, optimizer="sgd", momentum=0.0,
        nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
        validation_data=None, shuffle=True, seed=None, progress=True, early_stopping=False,
        patience=10, min_delta=0.0, callbacks=(), reset_optimizer=True, max_iter=200, max_fun=15000,
        tol=1e-4):
    """Train ``net`` with mini-batch gradient descent, or with full-batch L-BFGS.

    Parameters
    ----------
    net : fastnn.Network
    X : array_like, shape (n, n_in)
        Training inputs (converted to the network's dtype).
    T : array_like
        Targets: shape (n, n_out) (or (n,) when n_out == 1) for "mse"/"half_sse";
        class labels (n,) or one-hot rows (n, n_out) for softmax cross-entropy.
    epochs : int, default 10
    batch_size : int, default 32
        Samples per step; the last batch of an epoch may be smaller.
    lr : float, default 0.01
        Learning rate α > 0.
    optimizer : {"sgd", "adam", "lbfgs"}, default "sgd"
        "sgd" with ``momentum=0`` is the plain rule p ← p − α g; with momentum > 0
        it uses velocity (and Nesterov's variant with ``nesterov=True``).  The exact
        equations are in :mod:`fastnn.loops.optim`.  "lbfgs" minimizes the loss on
        all of X at once with SciPy's L-BFGS-B (:mod:`fastnn._lbfgs`; SciPy must be
        installed): ``max_iter``, ``max_fun``, ``tol`` and ``weight_decay`` apply,
        and an "epoch" of the history is one L-BFGS iteration; ``epochs``,
        ``batch_size``, ``lr``, ``shuffle``, the momentum and Adam settings and
        ``early_stopping`` do not.  It keeps every row's activations at once, as
        scikit-learn's does.
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
    beta1, beta2, eps : float
        Adam's settings.
    weight_decay : float >= 0, default 0
        L2 coefficient λ: each weight's gradient gets + λ w (biases are not decayed).
    validation_data : tuple (X_val, T_val), optional
        Evaluated after every epoch (loss, and accuracy for classification).
    shuffle : bool, default True
        Reshuffle the samples every epoch with a generator seeded by ``seed``.
    seed : int or None
        Seed of the shuffling; the same seed gives the same training run.
    progress : bool, default True
        Show a progress bar (tqdm if installed, else a line per epoch on stderr).
    early_stopping : bool, default False
        Stop when the validation loss (the training loss without validation data)
        has not improved by more than ``min_delta`` for ``patience`` epochs, and
        restore the parameters of the best epoch.
    patience : int, default 10
    min_delta : float, default 0
    callbacks : sequence of callables
        Each is called as ``callback(epoch, logs, net)`` after every epoch, ``logs``
        being a dict of that epoch's numbers; a callback returning True stops training.
    reset_optimizer : bool, default True
        Start from fresh optimizer state (velocity, Adam moments); False continues
        the state of earlier calls.
    max_iter, max_fun : int, default 200 and 15000
        L-BFGS only: at most this many iterations, and evaluations of the loss.
    tol : float, default 1e-4
        L-BFGS only: stop when no component of the gradient exceeds it.

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        When the loss or a gradient becomes NaN or infinite.  The parameters are
        those of the last finite step; the exception's ``history`` attribute holds
        the epochs completed before.
    """
    epochs = _checks.nonnegative_int(epochs, "epochs")
    patience = _checks.positive_int(patience, "patience")
    _checks.nonnegative_real(min_delta, "min_delta")
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables, got {cb!r}")
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError("validation_data must be a tuple (X_val, T_val)")
        checked = net.training_data(*validation_data, names=("validation_data[0]", "validation_data[1]"))
        validation_data = (checked.x, validation_data[1])
    if optimizer == "lbfgs":
        if early_stopping:
            raise ValueError("early_stopping is not available with optimizer='lbfgs' (tol ends L-BFGS)")
        return _fit_lbfgs(net, net.training_data(X, T), weight_decay, _checks.positive_int(max_iter, "max_iter"),
                          _checks.positive_int(max_fun, "max_fun"), _checks.nonnegative_real(tol, "tol"),
                          validation_data, progress, callbacks)
    # the whole run holds the network (fastnn._sharing): two fits of one network run
    # one after the other, and a predict from another thread waits for the end
    with net.exclusive():
        trainer = Trainer(net, X, T, batch_size, lr, optimizer, momentum, nesterov, beta1, beta2,
                          eps, weight_decay, shuffle, seed)
        # only once every argument is known to be good: a rejected call changes nothing
        if reset_optimizer:
            net.reset_optimizer()
        return _run(net, trainer, epochs, validation_data, progress, early_stopping, patience, min_delta,
                    callbacks)


def _record(net, history, epoch, loss, seconds, validation_data, bar, callbacks):
    """Append one epoch (or L-BFGS iteration) to ``history``, evaluate the validation
    data, draw the progress bar; returns the logs and whether a callback stops."""
    history.seconds.append(seconds)
    history.loss.append(loss)
    logs = {"loss": loss}
    if validation_data is not None:
        val_loss, val_acc = _evaluate(net, validation_data)
        history.val_loss.append(val_loss)
        logs["val_loss"] = val_loss
        if val_acc is not None:
            history.val_accuracy.append(val_acc)
            logs["val_accuracy"] = val_acc
    logs["seconds"] = seconds
    bar.update(epoch, logs)
    return logs, any([bool(cb(epoch, dict(logs), net)) for cb in callbacks])


def _fit_lbfgs(net, data, weight_decay, max_iter, max_fun, tol, validation_data, progress, callbacks):
    """:func:`fit` with optimizer="lbfgs", its arguments validated."""
    from . import _lbfgs

    weight_decay = _checks.nonnegative_real(weight_decay, "weight_decay")
    history = History()
    bar = _Progress(max_iter, progress)
    clock = [time.perf_counter()]

    def after(iteration, loss):
        _, stop = _record(net, history, iteration, loss, time.perf_counter() - clock[0], validation_data, bar,
                          callbacks)
        clock[0] = time.perf_counter()
        return stop

    try:
        with net.exclusive():
            _lbfgs.minimize(net, data, weight_decay, max_iter, max_fun, tol, callback=after)
            net.reset_optimizer()  # no SGD or Adam state belongs to these parameters
    except FloatingPointError as err:
        err.history = history
        raise
    finally:
        bar.close()
    return history


def _run(net, trainer, epochs, validation_data, progress, early_stopping, patience, min_delta, callbacks):
    """The epochs of :func:`fit`, its arguments validated."""
    history = History()
    best, best_params, waited = math.inf, None, 0
    bar = _Progress(epochs, progress)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            try:
                loss = trainer.epoch()
            except FloatingPointError as err:
                err.history = history
                raise
            logs, stop = _record(net, history, epoch, loss, time.perf_counter() - start, validation_data, bar,
                                 callbacks)
            if early_stopping:
                monitored = logs.get("val_loss", loss)
                if monitored < best - min_delta:
                    best, best_params, waited = monitored, net.params.copy(), 0
                    history.best_epoch = epoch
                else:
                    waited += 1
                    if waited >= patience:
                        history.stopped_early = stop = True
            if stop:
                break
    finally:
        bar.close()
    if early_stopping and best_params is not None:
        net.params[...] = best_params
    return history
