"""The layers of a :class:`fastnn.Network`: ``Dense`` and the activation layers.

A layer holds no numbers of its own until it is part of a network: a Dense layer's
``w`` and ``b`` are then views into the network's flat parameter buffer, and an
activation layer learns its width.  The computation is in the kernels
(:mod:`fastnn.loops`, :mod:`fastnn.matrix`), chosen by the layer's ``kind``.
"""

import numpy as np

from . import _checks
from ._codes import DENSE, IDENTITY, RELU, SIGMOID, TANH

__all__ = ["Layer", "Activation", "Dense", "Identity", "ReLU", "Sigmoid", "Tanh", "dense_stack"]


class Layer:
    """Base class of the layers of a :class:`Network`."""

    kind = None
    name = None

    def __init__(self):
        self._network = None

    def __repr__(self):
        return f"{type(self).__name__}()"


class Dense(Layer):
    """Fully connected layer, ``y[n, j] = Σ_i x[n, i] w[i, j] + b[j]``.

    Parameters
    ----------
    n_in : int
        Number of inputs.
    n_out : int
        Number of outputs.

    Attributes
    ----------
    w : ndarray, shape (n_in, n_out)
        Weights, a view into the network's parameter buffer (None until the layer is
        in a network).  Assigning an array copies it in.
    b : ndarray, shape (n_out,)
        Biases, likewise.
    """

    kind = DENSE
    name = "dense"

    def __init__(self, n_in, n_out):
        super().__init__()
        self.n_in = _checks.positive_int(n_in, "Dense n_in")
        self.n_out = _checks.positive_int(n_out, "Dense n_out")
        self._w = self._b = None

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out})"

    @property
    def w(self):
        return self._w

    @w.setter
    def w(self, value):
        self._assign(self._w, value, "w")

    @property
    def b(self):
        return self._b

    @b.setter
    def b(self, value):
        self._assign(self._b, value, "b")

    def _assign(self, view, value, name):
        if view is None:
            raise AttributeError(f"{name} exists once the layer is part of a Network")
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"{name} must have shape {view.shape}, got {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{name} contains NaN or infinity")
        with self._network._shared.write:  # not while another thread reads or trains
            view[...] = value


class Activation(Layer):
    """Base class of the activation layers: ``y = σ(x)`` elementwise, of the width
    of the layer before (set when the layer joins a network)."""

    def __init__(self):
        super().__init__()
        self.width = None


class Identity(Activation):
    """Identity activation layer, ``y = x``."""

    kind, name = IDENTITY, "identity"


class ReLU(Activation):
    """ReLU activation layer, ``y = max(0, x)``."""

    kind, name = RELU, "relu"


class Sigmoid(Activation):
    """Logistic sigmoid activation layer, ``y = 1 / (1 + exp(-x))``."""

    kind, name = SIGMOID, "sigmoid"


class Tanh(Activation):
    """Hyperbolic tangent activation layer."""

    kind, name = TANH, "tanh"


BY_NAME = {cls.name: cls for cls in (Identity, ReLU, Sigmoid, Tanh)}
"""The activation layers by the name a network file gives them."""


def dense_stack(widths, activation=None):
    """The layers of a multilayer perceptron: Dense layers of the given widths, each
    but the last followed by a new ``activation()`` layer.

    Parameters
    ----------
    widths : sequence of int, length >= 2
        ``[n_in, hidden_1, ..., n_out]``.
    activation : Activation subclass or None, default None
        The hidden layers' activation (``ReLU``, ``Tanh``, ...); None for none.

    Returns
    -------
    list of Layer
        For example ``dense_stack([64, 128, 10], ReLU)`` is
        ``[Dense(64, 128), ReLU(), Dense(128, 10)]``.
    """
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths must hold at least 2 widths (n_in and n_out), got {widths!r}")
    if activation is not None and not (isinstance(activation, type) and issubclass(activation, Activation)
                                       and activation is not Activation):
        raise TypeError(f"activation must be an activation layer class (ReLU, Tanh, ...) or None, got {activation!r}")
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers.append(Dense(n_in, n_out))
        if activation is not None:
            layers.append(activation())
    return layers[:-1] if activation is not None else layers
