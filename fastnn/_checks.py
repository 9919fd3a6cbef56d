"""Input validation shared by both forms.

Every public kernel of :mod:`fastnn.loops` and :mod:`fastnn.matrix` calls the same
``*_args`` function here before it computes anything, so both forms accept and reject
exactly the same inputs with the same messages.  Each function returns the arrays
the kernel may use (C-contiguous, copied only when they were not) and the output
buffers (the caller's ``out`` after checking it, or a new aligned allocation).

Errors: ``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong shape,
an empty batch, a non-finite value, a label out of range, or a buffer that cannot
be written.  Every message names the argument and what was expected.  Nothing is
written to any array before all checks of a call have passed.
"""

import math
import numbers

import numpy as np

from . import _buffers
from ._codes import OPTIMIZER_CODES
from ._finite import all_finite

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("mean", "sum")




def float_array(a, name, shape_doc, ndim=2, dtype=None, dtype_of=None):
    """Check that ``a`` is a float32/float64 ndarray of ``ndim`` dimensions.

    Parameters
    ----------
    a : object
        The argument to check.
    name : str
        Its name, used in messages.
    shape_doc : str
        The expected shape in the notation of the docs, e.g. ``"(n, n_in)"``.
    ndim : int
        Required number of dimensions.
    dtype : numpy dtype, optional
        Required dtype (the dtype of another argument, ``dtype_of``).
    dtype_of : str, optional
        Name of the argument whose dtype is required.

    Returns
    -------
    numpy.ndarray
        ``a`` itself if C-contiguous, else a C-contiguous copy.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray of shape {shape_doc}, got {type(a).__name__}"
        )
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {a.dtype} but {dtype_of} has dtype {dtype}: mixed dtypes "
            f"are not supported, convert one with .astype({dtype_of}.dtype)"
        )
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D with shape {shape_doc}, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); an empty batch cannot be processed")
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def same_shape(a, name, shape, shape_doc):
    """Raise ``ValueError`` unless ``a.shape == shape``."""
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {shape_doc} = {tuple(shape)}, got {a.shape}")


def finite(a, name):
    """Raise ``ValueError`` if ``a`` holds NaN or infinity, naming the first position."""
    flat = a.reshape(-1)
    if not all_finite(flat):
        bad = int(np.flatnonzero(~np.isfinite(flat))[0])
        where = np.unravel_index(bad, a.shape)
        raise ValueError(
            f"{name} contains a non-finite value ({flat[bad]}) at index {tuple(int(k) for k in where)}"
        )


def writable(a, name, shape_doc):
    """Raise ``ValueError`` unless ``a`` can be updated in place by a kernel."""
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} {shape_doc} must be C-contiguous to be updated in place")
    if not a.flags.writeable:
        raise ValueError(f"{name} {shape_doc} is read-only and cannot be updated in place")


def output(out, name, shape, shape_doc, dtype, inputs=()):
    """Check a caller's ``out`` buffer, or allocate an aligned one when ``out`` is None.

    Parameters
    ----------
    out : numpy.ndarray or None
    name : str
        Its name in messages, e.g. ``"out"`` or ``"out[0] (dw)"``.
    shape : tuple of int
    shape_doc : str
    dtype : numpy dtype
    inputs : sequence of numpy.ndarray
        Arrays the kernel reads while it writes ``out``; ``out`` may not overlap them.
        Pass the caller's arrays, not the contiguous copies :func:`float_array` may
        have made: ``out`` overlapping a non-contiguous input would otherwise go
        unnoticed and the caller's input would be overwritten.
    """
    if out is None:
        return _buffers.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray or None, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {out.dtype}")
    same_shape(out, name, shape, shape_doc)
    writable(out, name, shape_doc)
    for a in inputs:
        if np.may_share_memory(out, a):
            raise ValueError(f"{name} overlaps an input array; pass a separate buffer")
    return out


def float_dtype(dtype):
    """``np.dtype(dtype)`` if it is float32 or float64, else ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _int_at_least(value, name, low, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def positive_int(value, name):
    """``value`` as an int, or ``ValueError`` unless it is an integer >= 1 (not a bool)."""
    return _int_at_least(value, name, 1, "a positive integer")


def nonnegative_int(value, name):
    """``value`` as an int, or ``ValueError`` unless it is an integer >= 0 (not a bool)."""
    return _int_at_least(value, name, 0, "a non-negative integer")


def nonnegative_real(value, name):
    """``value`` as a float, or ``ValueError`` unless it is a finite real number >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
            or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def learning_rate(lr):
    """Return ``lr`` as a float after checking that it is a finite real number."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a real number, got {type(lr).__name__}")
    lr = float(lr)
    if not math.isfinite(lr):
        raise ValueError(f"lr must be finite, got {lr}")
    return lr


def reduction(value):
    """Raise ``ValueError`` unless ``value`` is ``"mean"`` or ``"sum"``."""
    if value not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean' or 'sum', got {value!r}")
    return value


# --- a network's data --------------------------------------------------------------


def network_inputs(x, n_in, dtype, name="X"):
    """``x`` as a C-contiguous (n, n_in) array of ``dtype``, n >= 1, finite."""
    if isinstance(x, np.ndarray) and x.dtype == dtype and x.flags.c_contiguous:
        arr = x
    else:
        try:
            arr = np.ascontiguousarray(x, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a numeric array of shape (n, {n_in}): {err}") from None
    if arr.ndim != 2 or arr.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (n, {n_in}), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    finite(arr, name)
    return arr


def network_targets(t, n, n_out, dtype, classes, name="T"):
    """Targets of n samples as (t, labels): float rows (n, n_out) of ``dtype``, or,
    where ``classes`` (softmax cross-entropy), integer labels (n,) in 0..n_out-1 or
    one-hot rows; the one not given is empty."""
    none_t = np.empty((0, n_out), dtype=dtype)
    none_labels = np.empty(0, dtype=np.intp)
    arr = np.asarray(t)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if classes and arr.ndim == 1:
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
                raise ValueError(f"{name} class labels must be whole numbers, found {arr[arr != np.round(arr)][:1]}")
        labels = arr.astype(np.intp)
        if labels.shape[0] != n:
            raise ValueError(f"{name} must hold one label per sample: {n} expected, got {labels.shape[0]}")
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= n_out:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} label {bad} is out of range for {n_out} classes (0..{n_out - 1})")
        return none_t, labels
    if arr.ndim == 1 and n_out == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape != (n, n_out):
        want = f"({n},) class labels or ({n}, {n_out})" if classes else f"({n}, {n_out})"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    finite(arr, name)
    if classes:
        class_target(arr, n, n_out, dtype, False)
    return arr, none_labels


class TrainingData:
    """Inputs and targets checked and converted once for one network: what
    :meth:`fastnn.Network.train_epoch` takes (:meth:`fastnn.Network.training_data`
    makes it, with :func:`network_inputs` and :func:`network_targets`).

    Attributes
    ----------
    network : fastnn.Network
    x : ndarray, shape (n, n_in)
        C-contiguous, of the network's dtype.
    t, labels : ndarray
        Float targets (n, n_out) and integer labels (n,); the one not used is empty.
    """

    __slots__ = ("network", "x", "t", "labels")

    def __init__(self, network, x, t, labels):
        self.network, self.x, self.t, self.labels = network, x, t, labels

    def __len__(self):
        return self.x.shape[0]


def sample_order(order, n):
    """``order`` as a C-contiguous intp array of sample indices in 0..n-1, non-empty."""
    order = np.asarray(order)
    if order.ndim != 1 or order.dtype.kind not in "iu" or order.size == 0:
        raise ValueError(f"order must be a non-empty 1-D array of sample indices, got {order.dtype} {order.shape}")
    if order.min() < 0 or order.max() >= n:
        raise ValueError(f"order holds an index outside 0..{n - 1}")
    return np.ascontiguousarray(order, dtype=np.intp)


# --- dense layer ---------------------------------------------------------------


def dense_forward_args(x, w, b, out, check_finite):
    given = (x, w, b)
    w = float_array(w, "w", "(n_in, n_out)")
    x = float_array(x, "x", "(n, n_in)", dtype=w.dtype, dtype_of="w")
    b = float_array(b, "b", "(n_out,)", ndim=1, dtype=w.dtype, dtype_of="w")
    n_in, n_out = w.shape
    if x.shape[1] != n_in:
        raise ValueError(f"x must have shape (n, n_in) with n_in = {n_in} (w.shape[0]), got {x.shape}")
    same_shape(b, "b", (n_out,), "(n_out,)")
    if check_finite:
        finite(x, "x"), finite(w, "w"), finite(b, "b")
    y = output(out, "out", (x.shape[0], n_out), "(n, n_out)", w.dtype, given)
    return x, w, b, y


def dense_backward_input_args(dy, w, out, check_finite):
    given = (dy, w)
    w = float_array(w, "w", "(n_in, n_out)")
    dy = float_array(dy, "dy", "(n, n_out)", dtype=w.dtype, dtype_of="w")
    n_in, n_out = w.shape
    if dy.shape[1] != n_out:
        raise ValueError(f"dy must have shape (n, n_out) with n_out = {n_out} (w.shape[1]), got {dy.shape}")
    if check_finite:
        finite(dy, "dy"), finite(w, "w")
    dx = output(out, "out", (dy.shape[0], n_in), "(n, n_in)", w.dtype, given)
    return dy, w, dx


def _x_dy(x, dy, check_finite):
    x = float_array(x, "x", "(n, n_in)")
    dy = float_array(dy, "dy", "(n, n_out)", dtype=x.dtype, dtype_of="x")
    if dy.shape[0] != x.shape[0]:
        raise ValueError(
            f"x and dy must hold the same number of samples n, got x {x.shape} and dy {dy.shape}"
        )
    if check_finite:
        finite(x, "x"), finite(dy, "dy")
    return x, dy


def dense_backward_params_args(x, dy, out, check_finite):
    given = (x, dy)
    x, dy = _x_dy(x, dy, check_finite)
    n_in, n_out = x.shape[1], dy.shape[1]
    if out is None:
        out = (None, None)
    elif not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("out must be None or a tuple (dw, db) of arrays")
    dw = output(out[0], "out[0] (dw)", (n_in, n_out), "(n_in, n_out)", x.dtype, given)
    db = output(out[1], "out[1] (db)", (n_out,), "(n_out,)", x.dtype, given + (dw,))
    return x, dy, dw, db


def dense_sgd_update_args(x, dy, w, b, lr, check_finite):
    lr = learning_rate(lr)
    given = (x, dy)
    x, dy = _x_dy(x, dy, check_finite)
    if not isinstance(w, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError("w and b must be numpy.ndarray objects to be updated in place")
    for a, name, doc, ndim in ((w, "w", "(n_in, n_out)", 2), (b, "b", "(n_out,)", 1)):
        if a.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but x has dtype {x.dtype}: mixed dtypes are not supported")
        if a.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D with shape {doc}, got shape {a.shape}")
    same_shape(w, "w", (x.shape[1], dy.shape[1]), "(n_in, n_out)")
    same_shape(b, "b", (dy.shape[1],), "(n_out,)")
    writable(w, "w", "(n_in, n_out)")
    writable(b, "b", "(n_out,)")
    if np.may_share_memory(w, b) or any(np.may_share_memory(p, a) for p in (w, b) for a in given):
        raise ValueError("w and b must not overlap each other, x or dy")
    if check_finite:
        finite(w, "w"), finite(b, "b")
    # the step is taken in the parameters' precision in both forms; a finite float64
    # lr can still overflow float32 (lr = 1e39 would turn every weight into inf)
    if abs(lr) > float(np.finfo(x.dtype).max):
        raise ValueError(f"lr must be finite in {x.dtype}, got {lr} (outside the {x.dtype} range)")
    return x, dy, w, b, x.dtype.type(lr)


# --- activations ---------------------------------------------------------------


def activation_args(x, out, check_finite):
    given = (x,)
    x = float_array(x, "x", "(n, k)")
    if check_finite:
        finite(x, "x")
    y = output(out, "out", x.shape, "(n, k)", x.dtype, given)
    return x, y


def activation_backward_args(x, dy, out, check_finite):
    given = (x, dy)
    x = float_array(x, "x", "(n, k)")
    dy = float_array(dy, "dy", "(n, k)", dtype=x.dtype, dtype_of="x")
    same_shape(dy, "dy", x.shape, "(n, k) like x")
    if check_finite:
        finite(x, "x"), finite(dy, "dy")
    dx = output(out, "out", x.shape, "(n, k)", x.dtype, given)
    return x, dy, dx


# --- losses ----------------------------------------------------------------------


def regression_loss_args(y, t, red, out, check_finite):
    reduction(red)
    given = (y, t)
    y = float_array(y, "y", "(n, k)")
    t = float_array(t, "t", "(n, k)", dtype=y.dtype, dtype_of="y")
    same_shape(t, "t", y.shape, "(n, k) like y")
    if check_finite:
        finite(y, "y"), finite(t, "t")
    dy = output(out, "out", y.shape, "(n, k)", y.dtype, given)
    return y, t, dy


def class_target(target, n, k, dtype, check_finite):
    """Validate a classification target for ``n`` samples and ``k`` classes.

    Returns
    -------
    labels : numpy.ndarray of intp, shape (n,), or None
        Class labels, when ``target`` is 1-D integers.
    t : numpy.ndarray of ``dtype``, shape (n, k), or None
        Target distributions (one-hot rows), when ``target`` is 2-D floats.
    """
    if not isinstance(target, np.ndarray):
        raise TypeError(
            f"target must be a numpy.ndarray of integer labels (n,) or one-hot rows (n, k), "
            f"got {type(target).__name__}"
        )
    if target.ndim == 1:
        if target.dtype.kind not in "iu":
            raise TypeError(f"target labels (n,) must have an integer dtype, got {target.dtype}")
        if target.shape[0] != n:
            raise ValueError(f"target must hold one label per sample: expected {n} labels, got {target.shape[0]}")
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(f"target label {bad} is out of range for {k} classes (labels must be 0..{k - 1})")
        return np.ascontiguousarray(target, dtype=np.intp), None
    t = float_array(target, "target", "(n, k)", dtype=dtype, dtype_of="z")
    same_shape(t, "target", (n, k), "(n, k) like z")
    if check_finite:
        finite(t, "target")
    if t.min() < 0:
        raise ValueError("target rows must be probability distributions (one-hot): a negative entry was found")
    sums = t.sum(axis=1)
    tol = 1e-3 if dtype == np.float32 else 1e-8
    worst = int(np.argmax(np.abs(sums - 1)))
    if abs(sums[worst] - 1) > tol:
        raise ValueError(
            f"target rows must sum to 1 (one-hot or probabilities): row {worst} sums to {sums[worst]}"
        )
    return None, t


def softmax_cross_entropy_args(z, target, red, out, check_finite):
    reduction(red)
    z_given = z
    z = float_array(z, "z", "(n, k)")
    if check_finite:
        finite(z, "z")
    labels, t = class_target(target, z.shape[0], z.shape[1], z.dtype, check_finite)
    # the caller's arrays (labels too: the kernel reads them while it writes dz)
    dz = output(out, "out", z.shape, "(n, k)", z.dtype, (z_given, target))
    return z, labels, t, dz


def unit_interval_target(t, name):
    """Raise ``ValueError`` unless every value of the float array ``t`` is in [0, 1]."""
    if t.size and not (t.min() >= 0 and t.max() <= 1):
        bad = t[(t < 0) | (t > 1) | (t != t)].flat[0]
        raise ValueError(f"{name} must hold values in [0, 1] (0/1 labels), found {bad}")


def nonnegative_target(t, name):
    """Raise ``ValueError`` unless every value of the float array ``t`` is >= 0."""
    if t.size and not t.min() >= 0:
        raise ValueError(f"{name} must hold values >= 0 (Poisson targets), found {t[~(t >= 0)].flat[0]}")


def poisson_args(z, t, red, out, check_finite):
    z, t, dz = regression_loss_args(z, t, red, out, check_finite)
    nonnegative_target(t, "t")
    return z, t, dz


def sigmoid_cross_entropy_args(z, t, red, out, check_finite):
    z, t, dz = regression_loss_args(z, t, red, out, check_finite)
    unit_interval_target(t, "t")
    return z, t, dz


# --- optimizers ------------------------------------------------------------------

# positions in the float64 hyper-parameter vector every optimizer kernel takes
LR, MU, BETA1, BETA2, EPS = range(5)


def unit_interval(value, name):
    """Raise ``ValueError`` unless ``0 <= value < 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def step_number(step):
    """Return ``step`` as an int after checking that it is an integer >= 1."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    return int(step)


def optimizer_hyper(dtype, lr, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """Validate optimizer settings and pack them into the kernels' float64 vector.

    ``lr`` must also be finite in ``dtype``, the parameters' dtype: the step is taken
    in their precision, where a finite float64 ``lr`` beyond the float32 range (1e39)
    would become inf and turn parameters into inf or NaN.
    """
    hyper = np.empty(5, dtype=np.float64)
    hyper[LR] = learning_rate(lr)
    if abs(hyper[LR]) > np.finfo(dtype).max:
        raise ValueError(f"lr must be finite in {np.dtype(dtype)}, got {lr} (outside the {np.dtype(dtype)} range)")
    hyper[MU] = unit_interval(momentum, "momentum")
    hyper[BETA1] = unit_interval(beta1, "beta1")
    hyper[BETA2] = unit_interval(beta2, "beta2")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"eps must be a number > 0, got {eps!r}")
    hyper[EPS] = eps
    return hyper


def optimizer_settings(dtype, optimizer, lr, momentum, nesterov, beta1, beta2, eps, weight_decay):
    """The settings of a network's training step, checked: (optimizer code,
    :func:`optimizer_hyper` vector, weight decay, the key of the optimizer state
    they need).  The codes are :data:`fastnn._codes.OPTIMIZER_CODES`."""
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
    hyper = optimizer_hyper(dtype, lr, momentum, beta1, beta2, eps)
    if hyper[LR] <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    weight_decay = nonnegative_real(weight_decay, "weight_decay")
    if optimizer == "adam":
        code = OPTIMIZER_CODES["adam"]
    elif momentum > 0:
        code = OPTIMIZER_CODES["nesterov" if nesterov else "momentum"]
    else:
        code = OPTIMIZER_CODES["sgd"]
    return code, hyper, weight_decay, (code, float(momentum), float(beta1), float(beta2))


def optimizer_args(p, g, moments, check_finite):
    """Check flat parameters, gradients and the optimizer's state arrays.

    Returns
    -------
    p, g, m, s : numpy.ndarray
        ``m`` and ``s`` are the given moments, or empty arrays where not given.
    """
    if not isinstance(p, np.ndarray):
        raise TypeError(f"p must be a numpy.ndarray of shape (size,), got {type(p).__name__}")
    if p.dtype not in FLOAT_DTYPES:
        raise TypeError(f"p must have dtype float32 or float64, got {p.dtype}")
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p must be a non-empty 1-D array of shape (size,), got shape {p.shape}")
    writable(p, "p", "(size,)")
    g = float_array(g, "g", "(size,)", ndim=1, dtype=p.dtype, dtype_of="p")
    same_shape(g, "g", p.shape, "(size,) like p")
    names = ("m", "s") if len(moments) == 2 else ("velocity",)
    state = []
    for a, name in zip(moments, names):
        if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
            raise TypeError(f"{name} must be a numpy.ndarray with the dtype of p ({p.dtype})")
        same_shape(a, name, p.shape, "(size,) like p")
        writable(a, name, "(size,)")
        state.append(a)
    arrays = [p, g] + state
    for k, a in enumerate(arrays):
        for other in arrays[k + 1:]:
            if np.may_share_memory(a, other):
                raise ValueError("p, g and the optimizer state must be separate arrays")
    if check_finite:
        finite(g, "g")
        for a, name in zip(state, names):
            finite(a, name)
    empty = np.empty(0, dtype=p.dtype)
    state += [empty] * (2 - len(state))
    return p, g, state[0], state[1]
