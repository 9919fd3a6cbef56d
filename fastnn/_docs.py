"""Docstrings of the public kernels that both forms define, written once.

``fastnn.loops`` and ``fastnn.matrix`` give their functions of the same name the
same docstring from here, so that the reference imports nothing from the fast form.
"""

_LAYER_DOC = """{{title}}

Parameters
----------
x : ndarray, shape (n, k)
    {x}{dy}
out : ndarray, shape (n, k), optional
    Buffer for the result; allocated if None.
check_finite : bool, default True
    Reject NaN or infinite inputs with a ``ValueError``.

Returns
-------
{result} : ndarray, shape (n, k)
"""
_FORWARD_DOC = _LAYER_DOC.format(x="Pre-activations, float32 or float64.", dy="", result="y")
_BACKWARD_DOC = _LAYER_DOC.format(x="The layer's input in the forward pass.",
                                  dy="\ndy : ndarray, shape (n, k)\n    dE/dy at the layer's output.", result="dx")


ACTIVATIONS = {
    "identity": _FORWARD_DOC.format(title="Identity layer, ``y = x`` (a copy)."),
    "identity_backward": _BACKWARD_DOC.format(title="Identity layer gradient, ``dx = dy``."),
    "relu": _FORWARD_DOC.format(title="ReLU layer, ``y = max(0, x)``."),
    "relu_backward": _BACKWARD_DOC.format(
        title="ReLU layer gradient, ``dx = dy`` where ``x > 0`` else 0 (σ'(0) = 0)."),
    "sigmoid": _FORWARD_DOC.format(
        title="Logistic sigmoid layer, ``y = 1 / (1 + exp(-x))``, stable for large ``|x|``."),
    "sigmoid_backward": _BACKWARD_DOC.format(title="Sigmoid layer gradient, ``dx = σ(x) (1 − σ(x)) dy``."),
    "tanh": _FORWARD_DOC.format(title="Hyperbolic tangent layer, ``y = tanh(x)``."),
    "tanh_backward": _BACKWARD_DOC.format(title="Tanh layer gradient, ``dx = (1 − tanh²(x)) dy``."),
}
"""Docstrings of the elementwise activation layers, by function name."""


OPTIMIZERS = {
    "sgd_update": """Plain gradient descent in place: ``p ← p − lr · g``.

Parameters
----------
p : ndarray, shape (size,)
    Flat parameters, updated in place.
g : ndarray, shape (size,)
    Gradients dE/dp, same dtype.
lr : float
    Learning rate.
check_finite : bool, default True
    Reject NaN or infinite gradients before anything is written.

Raises
------
FloatingPointError
    If an updated value would be NaN or infinite; nothing is written then.
""",
    "momentum_update": """SGD with (Nesterov) momentum in place.

``v ← μ v − lr g``, then ``p ← p + v`` (or ``p ← p + μ v − lr g`` with Nesterov).

Parameters
----------
p : ndarray, shape (size,)
    Flat parameters, updated in place.
g : ndarray, shape (size,)
    Gradients.
velocity : ndarray, shape (size,)
    Velocity ``v``, updated in place (start from zeros).
lr : float
    Learning rate.
momentum : float, default 0.9
    μ, in [0, 1).
nesterov : bool, default False
check_finite : bool, default True

Raises
------
FloatingPointError
    If an updated value would be NaN or infinite; nothing is written then.
""",
    "adam_update": """One Adam step in place (scikit-learn's form: bias correction folded into the rate).

Parameters
----------
p : ndarray, shape (size,)
    Flat parameters, updated in place.
g : ndarray, shape (size,)
    Gradients.
m, s : ndarray, shape (size,)
    First and second moment estimates, updated in place (start from zeros).
step : int
    The number of this step, counted from 1.
lr : float
    Learning rate.
beta1, beta2 : float
    Decay rates of the moments, in [0, 1).
eps : float
    Added to √s, > 0.
check_finite : bool, default True

Raises
------
FloatingPointError
    If an updated value would be NaN or infinite; nothing is written then.
""",
}
"""Docstrings of the optimizer updates, by function name."""


_LOGIT_LOSS_DOC = """
Parameters
----------
z : ndarray, shape (n, k)
    {z}
{target}
reduction : {{"mean", "sum"}}, default "mean"
out : ndarray, shape (n, k), optional
    Buffer for ``dz``.
check_finite : bool, default True

Returns
-------
loss : numpy scalar of ``z.dtype``
dz : ndarray, shape (n, k)
"""

_T = """t : ndarray, shape (n, k)
    {}, dtype of ``z``."""


LOSSES = {
    "mse": """Mean squared error and its gradient.

``E = (1/(N K)) Σ_n Σ_k (y[n,k] − t[n,k])²`` for "mean", ``N`` times that for
"sum"; ``dy = 2 (y − t) / (N K)`` (or ``/ K`` for "sum").

Parameters
----------
y : ndarray, shape (n, k)
    Network outputs.
t : ndarray, shape (n, k)
    Targets, same dtype as ``y``.
reduction : {"mean", "sum"}, default "mean"
    How per-sample losses are reduced over the batch.
out : ndarray, shape (n, k), optional
    Buffer for ``dy``; allocated if None.
check_finite : bool, default True
    Reject NaN or infinite inputs.

Returns
-------
loss : numpy scalar of ``y.dtype``
dy : ndarray, shape (n, k)
    dE/dy.
""",
    "half_sse": """Half the sum of squared errors: ``E = ½ Σ (y − t)²``, ``dy = y − t``.

Parameters
----------
y : ndarray, shape (n, k)
t : ndarray, shape (n, k)
out : ndarray, shape (n, k), optional
    Buffer for ``dy``.
check_finite : bool, default True

Returns
-------
loss : numpy scalar of ``y.dtype``
dy : ndarray, shape (n, k)
    The output error δ = y − t.
""",
    "softmax_cross_entropy": """Softmax cross-entropy on logits and its gradient, ``dz = p − t``.

``p = softmax(z)`` is computed stably; the per-sample loss is
``−Σ_k t_k log p_k``; the softmax Jacobian is never formed.
""" + _LOGIT_LOSS_DOC.format(z="Logits.", target="""target : ndarray, shape (n,) of integers, or shape (n, k) of floats
    Class labels in ``0..k-1``, or rows of one-hot (or probability) targets
    with the dtype of ``z``."""),
    "sigmoid_cross_entropy": """Sigmoid cross-entropy on logits and its gradient, ``dz = s(z) − t``.

Each of the k outputs is an independent binary (or multi-label) prediction
``s(z) = 1 / (1 + e^(−z))``; the per-sample loss sums the k binary
cross-entropies, computed from the logits as
``Σ_k max(z_k, 0) − z_k t_k + log(1 + e^(−|z_k|))`` so that it never takes the log
of an underflowed probability.
""" + _LOGIT_LOSS_DOC.format(z="Logits.", target=_T.format("Targets in [0, 1] (an indicator matrix for multi-label data)")),
    "poisson": """Poisson loss with a log link (half the Poisson deviance) and its gradient.

The network output ``z`` is the log of the predicted mean ``μ = e^z``; the
per-sample loss sums ``e^(z_k) − t_k z_k + t_k log t_k − t_k`` over the k outputs
(``t log t = 0`` at ``t = 0``), which is 0 exactly where ``μ = t``;
``dz = e^z − t``.
""" + _LOGIT_LOSS_DOC.format(z="Log-means.", target=_T.format("Counts or other targets >= 0")),
}
"""Docstrings of the losses, by function name."""
