"""Layers and the :class:`Network` that trains them.

A network is a list of layers, activations being layers of their own::

    net = Network([Dense(64, 128), ReLU(), Dense(128, 10)],
                  loss="softmax_cross_entropy", form="loops", dtype="float32", seed=0)

All parameters live in one flat, 64-byte-aligned buffer; each Dense layer's ``w``
(n_in x n_out) and ``b`` are views into it, so ``net.layers[0].w[...] = 0`` changes
the network.  ``form="loops"`` runs every step as one compiled call
(:mod:`fastnn.loops.passes`); ``form="matrix"`` runs the same buffers through the NumPy
kernels layer by layer (:mod:`fastnn.matrix.passes`).

Initialization (seeded, identical in both forms): weights are drawn uniformly from
``[-a, a]`` in float64 and cast to the network's dtype, with ``a = sqrt(6 / n_in)``
(He) for a Dense layer followed by ReLU, and ``a = sqrt(6 / (n_in + n_out))`` (Glorot)
otherwise; biases start at zero.
"""


import numpy as np

from . import _buffers, _checks, _model_file, _sharing
from ._checks import TrainingData
from . import train as _train  # train imports no network: no cycle
from ._codes import B_OFF, DENSE, KIND, LOSS_CODES, N_IN, N_OUT, SGD, W_OFF
from .layers import Activation, Dense, Identity, Layer, ReLU, Sigmoid, Tanh
from .loops import activations as _act
from .loops import passes as _loop_passes
from .matrix import activations as _matrix_act
from .matrix import passes as _matrix_passes

__all__ = ["Layer", "Dense", "Identity", "ReLU", "Sigmoid", "Tanh", "Network"]

_FORMS = {"loops": _loop_passes, "matrix": _matrix_passes}
_LOSSES = ("mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy", "poisson")
_PREDICT_CHUNK = 1024


def _chunk(batch_size, n):
    if type(batch_size) is int and batch_size >= 1:  # the common case, without an ABC check
        return min(batch_size, n)
    return min(_checks.positive_int(batch_size, "batch_size"), n)




class Network:
    """A multilayer perceptron: a list of layers, a loss, and the buffers that train it.

    Parameters
    ----------
    layers : list of Layer
        ``Dense`` layers and activation layers (``Identity``, ``ReLU``, ``Sigmoid``,
        ``Tanh``) in order; at least one Dense.  Consecutive Dense widths must chain.
    loss : {"mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy", "poisson"}, default "mse"
        Loss on the last layer's output.  For softmax cross-entropy the network
        outputs logits (no activation after the last Dense) and targets are class
        labels (n,) or one-hot rows (n, k); for sigmoid cross-entropy it outputs one
        logit per label and targets are rows of k values in [0, 1] (binary or
        multi-label indicators); for "poisson" it outputs the log of the predicted
        mean (the log link: ``exp(predict(X))`` is the mean) and targets are >= 0.
    reduction : {"mean", "sum"}, default "mean"
        How per-sample losses are combined over a batch (``half_sse`` is always a sum).
    form : {"loops", "matrix"}, default "loops"
        Which implementation trains the network; both give the same results within
        rounding.
    dtype : {"float32", "float64"}, default "float32"
        Precision of parameters and computation.  Inputs are converted to it.
    seed : int or None, default None
        Seed of the weight initialization.

    Attributes
    ----------
    layers : list of Layer
    params : ndarray, shape (size,)
        The flat parameter buffer every ``w`` and ``b`` is a view of.
    n_in, n_out : int
        Input and output widths.
    """

    def __init__(self, layers, loss="mse", reduction="mean", form="loops", dtype="float32", seed=None):
        if form not in _FORMS:
            raise ValueError(f"form must be 'loops' or 'matrix', got {form!r}")
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {', '.join(_LOSSES)}, got {loss!r}")
        _checks.reduction(reduction)
        self.dtype = _checks.float_dtype(dtype)
        self.layers = list(layers)
        self.loss_name, self.reduction, self.form = loss, reduction, form
        self._backend = _FORMS[form]
        self.spec, self.n_in, self.n_out, size = self._build_spec()
        self.params = _buffers.zeros(size, self.dtype)
        self.grads = _buffers.zeros(size, self.dtype)
        self._state = None  # (m, s) of the optimizer, allocated on first use
        self._optimizer_key = None
        self._settings_cache = {}
        self.step_count = 0
        self._share()
        self._attach()
        self.init_params(seed)

    def _share(self):
        # the lock and the lent work buffers of fastnn._sharing: never pickled
        self._shared = _sharing.Shared(
            lambda batch: _sharing.Workspace(self.spec, self.n_in, self.n_out, batch, self.dtype))

    # -- structure ----------------------------------------------------------------

    def _build_spec(self):
        if not self.layers:
            raise ValueError("layers must hold at least one layer")
        dense = [l for l in self.layers if isinstance(l, Dense)]
        if not dense:
            raise ValueError("layers must include at least one Dense layer")
        rows, width, offset = [], dense[0].n_in, 0
        for position, layer in enumerate(self.layers):
            if not isinstance(layer, Layer) or type(layer) in (Layer, Activation):
                raise TypeError(f"layers[{position}] must be a Dense or activation layer, got {layer!r}")
            if layer._network is not None:
                raise ValueError(f"layers[{position}] ({layer!r}) already belongs to another Network")
            if any(other is layer for other in self.layers[:position]):
                # one object cannot own two slots: its w and b would view only one
                raise ValueError(f"layers[{position}] ({layer!r}) appears twice in layers; create a new layer")
            if isinstance(layer, Dense):
                if layer.n_in != width:
                    raise ValueError(
                        f"layers[{position}] is Dense({layer.n_in}, {layer.n_out}) but its input "
                        f"has width {width}: n_in must be {width}"
                    )
                w_off = offset
                b_off = w_off + _sharing.pad(layer.n_in * layer.n_out)
                offset = b_off + _sharing.pad(layer.n_out)
                rows.append((DENSE, layer.n_in, layer.n_out, w_off, b_off))
                width = layer.n_out
            else:
                rows.append((layer.kind, width, width, 0, 0))
        if self.loss_name == "softmax_cross_entropy" and width < 2:
            raise ValueError("softmax_cross_entropy needs at least 2 outputs")
        return np.array(rows, dtype=np.int64), dense[0].n_in, width, offset

    def _attach(self):
        for layer, row in zip(self.layers, self.spec):
            layer._network = self
            if row[KIND] == DENSE:
                layer._w = self.params[row[W_OFF]:row[W_OFF] + row[N_IN] * row[N_OUT]].reshape(row[N_IN], row[N_OUT])
                layer._b = self.params[row[B_OFF]:row[B_OFF] + row[N_OUT]]
            else:
                layer.width = int(row[N_IN])

    @property
    def dense_layers(self):
        """The Dense layers, in order."""
        return [l for l in self.layers if isinstance(l, Dense)]

    def parameters(self):
        """List of ``(w, b)`` views, one pair per Dense layer."""
        return [(l.w, l.b) for l in self.dense_layers]

    @property
    def n_params(self):
        """Number of weights and biases."""
        return sum(l.n_in * l.n_out + l.n_out for l in self.dense_layers)

    def __repr__(self):
        inner = ", ".join(repr(l) for l in self.layers)
        return f"Network([{inner}], loss={self.loss_name!r}, form={self.form!r}, dtype={self.dtype.name!r})"

    def init_params(self, seed=None):
        """Draw new weights (He or Glorot uniform, see the module docs) and zero biases.

        Parameters
        ----------
        seed : int or None
            The same seed gives the same parameters in both forms.
        """
        rng = np.random.default_rng(seed)
        with self._shared.write:
            self.params.fill(0)
            for position, layer in enumerate(self.layers):
                if isinstance(layer, Dense):
                    after = self.layers[position + 1] if position + 1 < len(self.layers) else None
                    fan = layer.n_in if isinstance(after, ReLU) else layer.n_in + layer.n_out
                    bound = np.sqrt(6.0 / fan)
                    layer.w[...] = rng.uniform(-bound, bound, size=(layer.n_in, layer.n_out))
            self.reset_optimizer()

    def reset_optimizer(self):
        """Forget the optimizer's state (momentum, Adam moments and step count)."""
        with self._shared.write:
            self._optimizer_key = None
            self.step_count = 0
            if self._state is not None:
                self._state.fill(0)

    # -- data ---------------------------------------------------------------------

    @property
    def _loss_code(self):
        return LOSS_CODES[self.loss_name]

    @property
    def _mean(self):
        return self.reduction == "mean" and self.loss_name != "half_sse"

    def _inputs(self, x, name="X"):
        return _checks.network_inputs(x, self.n_in, self.dtype, name)

    def _targets(self, t, n, name="T"):
        t, labels = _checks.network_targets(t, n, self.n_out, self.dtype, self.loss_name == "softmax_cross_entropy",
                                            name)
        if self.loss_name == "sigmoid_cross_entropy":
            _checks.unit_interval_target(t, name)
        elif self.loss_name == "poisson":
            _checks.nonnegative_target(t, name)
        return t, labels

    # -- evaluation -----------------------------------------------------------------

    def predict(self, X, batch_size=_PREDICT_CHUNK):
        """Forward pass: the network's output for each row of X.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
        batch_size : int, default 1024
            Rows computed at a time (bounds the work memory).

        Returns
        -------
        y : ndarray, shape (n, n_out)
            Network outputs in the network's dtype (logits for softmax cross-entropy).
        """
        x = self._inputs(X)
        chunk = _chunk(batch_size, x.shape[0])
        out = np.empty((x.shape[0], self.n_out), dtype=self.dtype)
        ws = self._shared.start_read(chunk)
        try:
            self._backend._predict(self.spec, self.params, ws.work, ws.layout, x, out, chunk)
        finally:
            self._shared.end_read(ws)
        return out

    def predict_proba(self, X, batch_size=_PREDICT_CHUNK):
        """Probabilities: ``softmax(predict(X))`` of the classes for softmax
        cross-entropy, ``sigmoid(predict(X))`` of each label for sigmoid
        cross-entropy.

        Returns
        -------
        p : ndarray, shape (n, n_out)
        """
        act = _act if self.form == "loops" else _matrix_act
        if self.loss_name == "softmax_cross_entropy":
            return act.softmax(self.predict(X, batch_size), check_finite=False)
        if self.loss_name == "sigmoid_cross_entropy":
            return act.sigmoid(self.predict(X, batch_size), check_finite=False)
        raise ValueError("predict_proba needs loss='softmax_cross_entropy' or 'sigmoid_cross_entropy'")

    def predict_classes(self, X, batch_size=_PREDICT_CHUNK):
        """Most likely class of each row (argmax of the outputs), as int64 labels."""
        return np.argmax(self.predict(X, batch_size), axis=1)

    def loss(self, X, T):
        """The loss on (X, T) with the network's reduction, parameters untouched.

        Returns
        -------
        float
        """
        x = self._inputs(X)
        t, labels = self._targets(T, x.shape[0])
        total = 0.0
        order = np.arange(x.shape[0])
        chunk = min(_PREDICT_CHUNK, x.shape[0])
        ws = self._shared.start_read(chunk)
        try:
            for start in range(0, x.shape[0], chunk):
                n = min(chunk, x.shape[0] - start)
                xb, tb, lab = self._backend._load_batch(self.spec, ws.work, ws.layout, ws.label_buf, x, t, labels,
                                                        order, start, n)
                total += self._backend._forward_loss(self.spec, self.params, ws.work, ws.layout, xb, tb, lab,
                                                     self._loss_code, False)
        finally:
            self._shared.end_read(ws)
        return total / x.shape[0] if self._mean else total

    def gradients(self, X, T, weight_decay=0.0):
        """Gradients of the loss on the batch (X, T), parameters untouched.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
        T : array_like
            Targets, as for :meth:`fit`.
        weight_decay : float, default 0
            L2 coefficient λ: adds λ·w to each dw (not to db).

        Returns
        -------
        list of (dw, db)
            One pair per Dense layer: new arrays of shapes (n_in, n_out) and (n_out,).
        """
        x = self._inputs(X)
        t, labels = self._targets(T, x.shape[0])
        weight_decay = _checks.nonnegative_real(weight_decay, "weight_decay")
        ws = self._shared.start_read(x.shape[0])
        try:
            xb, tb, lab = self._batch(ws, x, t, labels)
            # the workspace's own gradient buffer: `self.grads` is the training steps'
            grads = ws.gradient_buffer(self.params.size)
            self._backend._forward_loss(self.spec, self.params, ws.work, ws.layout, xb, tb, lab,
                                        self._loss_code, self._mean)
            self._backend._backward(self.spec, self.params, grads, ws.work, ws.layout, xb, weight_decay)
            return [(grads[r[W_OFF]:r[W_OFF] + r[N_IN] * r[N_OUT]].reshape(r[N_IN], r[N_OUT]).copy(),
                     grads[r[B_OFF]:r[B_OFF] + r[N_OUT]].copy())
                    for r in self.spec if r[KIND] == DENSE]
        finally:
            self._shared.end_read(ws)

    def _batch(self, ws, x, t, labels):
        """The arrays the compiled passes take for one batch of validated (x, t,
        labels), in the workspace ``ws`` lent for it.

        Those are the arrays themselves when Numba can take them as they are, which
        saves copying the batch (a few percent of a step at 784-256-128-10).  The
        passes only read them.  A read-only or misaligned array would be another type
        to Numba, and would compile every pass again: it is copied into the
        workspace's batch slots instead.
        """
        if all(a.flags.writeable and a.flags.aligned for a in (x, t, labels)):
            return x, t, labels
        order = np.arange(x.shape[0])
        return self._backend._load_batch(self.spec, ws.work, ws.layout, ws.label_buf, x, t, labels, order, 0,
                                         x.shape[0])

    # -- training -------------------------------------------------------------------

    def _optimizer(self, optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay):
        """Validate optimizer settings; returns (code, hyper, weight_decay)."""
        settings = (optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay)
        # the same settings as the last call (every step of a loop) are not validated
        # again: typed, so that lr=True is not taken for a validated lr=1
        cache_key = tuple((type(v), v) for v in settings)
        try:
            cached = self._settings_cache.get(cache_key)
        except TypeError:  # an unhashable setting (a 0-d array, say): no caching
            cache_key, cached = None, None
        if cached is None:
            cached = _checks.optimizer_settings(self.dtype, *settings)
            if cache_key is not None:
                self._settings_cache = {cache_key: cached}
        code, hyper, weight_decay, key = cached
        if key != self._optimizer_key:
            self.reset_optimizer()
            self._optimizer_key = key
        if self._state is None and code != SGD:
            self._state = _buffers.zeros((2, self.params.size), self.dtype)
        return code, hyper, weight_decay

    def _state_views(self):
        if self._state is None:
            empty = np.empty(0, dtype=self.dtype)
            return empty, empty
        return self._state[0], self._state[1]

    def train_step(self, X, T, lr=0.1, optimizer="sgd", momentum=0.0, nesterov=False,
                   beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        """One optimizer step on the batch (X, T); returns the loss before the step.

        The optimizer's state (velocity, Adam moments, step count) carries over
        between calls with the same optimizer settings.  See :meth:`fit` for the
        parameters.

        Raises
        ------
        FloatingPointError
            If the loss or a gradient is not finite; the step is then not applied.
        """
        x = self._inputs(X)
        t, labels = self._targets(T, x.shape[0])
        ws = self._shared.start_write(x.shape[0])
        try:
            code, hyper, wd = self._optimizer(optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay)
            xb, tb, lab = self._batch(ws, x, t, labels)
            m, s = self._state_views()
            loss, applied = self._backend._train_step(
                self.spec, self.params, self.grads, m, s, hyper, self.step_count + 1, ws.work, ws.layout,
                xb, tb, lab, self._loss_code, self._mean, wd, code)
            if not applied:
                raise FloatingPointError(
                    f"the loss ({loss}) or a gradient is not finite: the step was not applied and "
                    "the parameters are unchanged (try a smaller learning rate)")
            self.step_count += 1
        finally:
            self._shared.end_write(ws)
        return float(loss)

    def training_data(self, X, T, names=("X", "T")):
        """``(X, T)`` checked and converted once, for :meth:`train_epoch`.

        ``T`` as for :meth:`fit`; ``names`` are the argument names the error
        messages use.

        Returns
        -------
        TrainingData
        """
        x = self._inputs(X, names[0])
        t, labels = self._targets(T, x.shape[0], names[1])
        return TrainingData(self, x, t, labels)

    def check_optimizer(self, optimizer="sgd", lr=0.01, momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999,
                        eps=1e-8, weight_decay=0.0):
        """Raise the error :meth:`train_step` would raise for these settings; change
        nothing (so that a caller can refuse bad settings before it changes anything)."""
        _checks.optimizer_settings(self.dtype, optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay)

    def train_epoch(self, data, order, batch_size, lr=0.01, optimizer="sgd", momentum=0.0, nesterov=False,
                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decay_per_batch_size=False):
        """Optimizer steps on the batches of ``order``, in one compiled call; the
        loss over the samples visited.

        Parameters
        ----------
        data : TrainingData
            From :meth:`training_data` of this network.
        order : array of int, shape (m,)
            The sample indices to visit; batch k takes the k-th ``batch_size`` of them.
        batch_size : int
        decay_per_batch_size : bool, default False
            See :class:`fastnn.Trainer`.

        The other parameters are those of :meth:`train_step`.

        Returns
        -------
        float
            The batches' losses weighted by their sizes ("mean" reduction), or their
            sum ("sum").

        Raises
        ------
        FloatingPointError
            If a batch's loss or update is not finite.  That batch's update is not
            applied: the parameters are those after the last finite step.
        """
        self._check_own(data)
        order = _checks.sample_order(order, len(data))
        batch = min(_checks.positive_int(batch_size, "batch_size"), len(data))
        ws = self._shared.start_write(batch)
        try:
            code, hyper, wd = self._optimizer(optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay)
            return self._epoch(data, order, batch, code, hyper, wd, bool(decay_per_batch_size), ws)
        finally:
            self._shared.end_write(ws)

    def _epoch(self, data, order, batch, code, hyper, wd, decay_per_batch_size, ws):
        total = order.shape[0]
        n_full = total - total % batch
        # one compiled call for the full batches, and one for a smaller last batch
        # when its weight decay differs
        parts = [(order, batch)]
        if decay_per_batch_size:
            parts = [(part, size) for part, size in ((order[:n_full], batch), (order[n_full:], total - n_full))
                     if part.size]
        loss = 0.0
        for part, size in parts:
            n_batches = -(-part.shape[0] // size)
            losses = np.zeros(n_batches, dtype=np.float64)
            scaled = wd / size if decay_per_batch_size else wd
            m, s = self._state_views()
            done = self._backend._train_epoch(
                self.spec, self.params, self.grads, m, s, hyper, self.step_count + 1, ws.work, ws.layout,
                ws.label_buf, data.x, data.t, data.labels, part, size, self._loss_code, self._mean, scaled, code,
                losses)
            self.step_count += done
            if done < n_batches:
                raise FloatingPointError(
                    f"training diverged: batch {done} gave a non-finite loss or update "
                    f"(loss = {losses[done]}); that step was not applied, the parameters "
                    "are those of the last finite step (try a smaller learning rate)")
            sizes = np.full(n_batches, size, dtype=np.float64)
            sizes[-1] = part.shape[0] - size * (n_batches - 1)
            loss += float(np.dot(losses, sizes)) if self._mean else float(losses.sum())
        return loss / total if self._mean else loss

    def loss_and_gradient(self, data, weight_decay=0.0):
        """The loss on all of ``data`` and its gradient with respect to the flat
        parameter buffer, in one compiled call: what a full-batch optimizer (L-BFGS,
        :mod:`fastnn._lbfgs`) evaluates.

        Parameters
        ----------
        data : TrainingData
            From :meth:`training_data` of this network; all its rows form one batch.
        weight_decay : float, default 0
            λ: adds λ·w to the gradient of each weight (not to the loss).

        Returns
        -------
        loss : float
            With the network's reduction.
        gradient : ndarray, shape (params.size,)
            A new array, laid out like :attr:`params` (zero in the padding).
        """
        self._check_own(data)
        weight_decay = _checks.nonnegative_real(weight_decay, "weight_decay")
        ws = self._shared.start_read(len(data))
        try:
            grads = ws.gradient_buffer(self.params.size)
            xb, tb, lab = self._batch(ws, data.x, data.t, data.labels)
            loss = self._backend._loss_and_gradient(self.spec, self.params, grads, ws.work, ws.layout, xb, tb,
                                                    lab, self._loss_code, self._mean, weight_decay)
            return float(loss), grads.copy()
        finally:
            self._shared.end_read(ws)

    def _check_own(self, data):
        if not isinstance(data, TrainingData) or data.network is not self:
            raise ValueError("data must come from this network's training_data(X, T)")

    def exclusive(self):
        """``with net.exclusive():`` holds the network for a sequence of changes:
        calls from other threads wait until the block ends (:meth:`fit` holds it for
        the whole run).  The holding thread may use the network freely."""
        return self._shared.write

    def fit(self, X, T, epochs=10, batch_size=32, lr=0.01, optimizer="sgd", **kwargs):
        """Train with mini-batches; see :func:`fastnn.train.fit` for every option.

        Returns
        -------
        fastnn.train.History
        """
        return _train.fit(self, X, T, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, **kwargs)

    # -- persistence ----------------------------------------------------------------

    def __getstate__(self):
        # the backend is a module, the work buffers are scratch and a lock cannot be
        # pickled: none of them is
        state = self.__dict__.copy()
        for name in ("_backend", "_shared"):
            del state[name]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._backend = _FORMS[self.form]
        # unpickled arrays are separate, unaligned copies: back into aligned buffers,
        # and every w and b a view of params again
        for name in ("params", "grads", "_state"):
            value = getattr(self, name)
            if value is not None:
                aligned = _buffers.empty(value.shape, value.dtype)
                aligned[...] = value
                setattr(self, name, aligned)
        for layer in self.layers:
            layer._network = None
        self._share()
        self._attach()

    def save(self, path):
        """Write the network (architecture, loss, dtype and parameters) to an .npz file.

        ``Network.load(path)`` returns a network with bitwise equal parameters.  The
        file is written under a temporary name and renamed into place: a save that
        fails leaves any earlier file at ``path`` as it was.
        """
        _model_file.save(self, path)

    @classmethod
    def load(cls, path, form="loops"):
        """Read a network written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
        form : {"loops", "matrix"}, default "loops"

        Raises
        ------
        OSError
            If the file does not exist or cannot be opened.
        ValueError
            If the file is not a fastnn network, is damaged or cut short, has an
            unsupported format version, or misses or mis-shapes an array; the message
            names the file and says which.
        """
        return _model_file.load(cls, path, form)

