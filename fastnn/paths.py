"""Path form: gradients of a tiny linear network as sums over paths.

For a network of dense layers without activations and the half-sum-of-squares loss
``E = ½ Σ_n Σ_k (y[n,k] − t[n,k])²``, the output error is ``δ_k = y_k − t_k`` and

    dE/dw_i^j = Σ_n a_i · Σ_k δ_k · Σ_(paths from w_i^j to y_k) Π(weights on the path)

where ``a_i`` is the input at the path's start (the output of unit ``i`` of the layer
before; for the first layer, ``x_i``).  A bias ``b^j`` is a weight whose input is 1.

This is the chain rule with nothing folded away: every path is enumerated and its
weights multiplied, in plain Python, independent of :mod:`fastnn.loops` and
:mod:`fastnn.matrix`.  Tests check that both forms compute exactly these sums.  The
number of paths grows exponentially with depth, so only tiny networks are accepted.
"""

import itertools

import numpy as np

from . import _checks

__all__ = ["MAX_PATHS", "count_paths", "linear_network_gradients"]

MAX_PATHS = 100_000
"""Largest number of (unit, path) pairs :func:`linear_network_gradients` enumerates."""


def count_paths(widths):
    """Number of paths enumerated for a network with these layer widths.

    Parameters
    ----------
    widths : sequence of int
        ``[n_in, n_out_1, ..., n_out_L]``.

    Returns
    -------
    int
        ``Σ_l n_out_l · Π_(m > l) n_out_m``: for every unit, every path from it to an output.
    """
    outs = list(widths[1:])
    return sum(outs[l] * int(np.prod(outs[l + 1:], dtype=np.int64)) for l in range(len(outs)))


def _path_coefficients(weights, layer):
    """c[j, k] = Σ over paths from unit j of ``layer`` to output k of Π(weights on the path)."""
    later = weights[layer + 1:]
    n_units = weights[layer].shape[1]
    n_outputs = weights[-1].shape[1]
    c = np.zeros((n_units, n_outputs))
    for j in range(n_units):
        # a path is the sequence of units it visits in each later layer; its last
        # unit is the output k it reaches
        for units in itertools.product(*(range(w.shape[1]) for w in later)):
            product, prev = 1.0, j
            for w, unit in zip(later, units):
                product *= float(w[prev, unit])
                prev = unit
            c[j, prev] += product
    return c


def linear_network_gradients(x, params, t):
    """Loss and gradients of a linear network, computed by enumerating paths.

    Parameters
    ----------
    x : ndarray, shape (n, n_in)
        Inputs.
    params : sequence of (w, b)
        Dense layers in order, ``w`` of shape (n_in_l, n_out_l), ``b`` of shape
        (n_out_l,); consecutive layers must chain.  No activations.
    t : ndarray, shape (n, n_out_L)
        Targets.

    Returns
    -------
    loss : float
        ``½ Σ (y − t)²``.
    grads : list of (dw, db)
        dE/dw and dE/db for each layer, with the dtype of ``x``.

    Raises
    ------
    ValueError
        If shapes do not chain, or the network has more than :data:`MAX_PATHS` paths.
    """
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError("params must be a non-empty list of (w, b) pairs")
    x = _checks.float_array(x, "x", "(n, n_in)")
    _checks.finite(x, "x")
    weights, biases = [], []
    width = x.shape[1]
    for l, layer in enumerate(params):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
            raise TypeError(f"params[{l}] must be a pair (w, b)")
        w = _checks.float_array(layer[0], f"params[{l}][0] (w)", "(n_in, n_out)", dtype=x.dtype, dtype_of="x")
        b = _checks.float_array(layer[1], f"params[{l}][1] (b)", "(n_out,)", ndim=1, dtype=x.dtype, dtype_of="x")
        if w.shape[0] != width:
            raise ValueError(f"params[{l}][0] (w) must have {width} rows to follow the previous layer, got shape {w.shape}")
        _checks.same_shape(b, f"params[{l}][1] (b)", (w.shape[1],), "(n_out,)")
        _checks.finite(w, f"params[{l}][0] (w)"), _checks.finite(b, f"params[{l}][1] (b)")
        weights.append(w)
        biases.append(b)
        width = w.shape[1]
    t = _checks.float_array(t, "t", "(n, n_out)", dtype=x.dtype, dtype_of="x")
    _checks.same_shape(t, "t", (x.shape[0], width), "(n, n_out)")
    _checks.finite(t, "t")
    paths = count_paths([x.shape[1]] + [w.shape[1] for w in weights])
    if paths > MAX_PATHS:
        raise ValueError(
            f"this network has {paths} paths, more than the path form's limit of {MAX_PATHS}: "
            "it is exponential in depth and exists for tiny networks only; "
            "use fastnn.loops or fastnn.matrix"
        )

    # forward pass, one neuron at a time: a_l[n, j] = b[j] + Σ_i a_(l-1)[n, i] w[i, j]
    acts = [x.astype(np.float64)]
    for w, b in zip(weights, biases):
        a = acts[-1]
        nxt = np.empty((a.shape[0], w.shape[1]))
        for n in range(a.shape[0]):
            for j in range(w.shape[1]):
                nxt[n, j] = float(b[j]) + sum(a[n, i] * float(w[i, j]) for i in range(w.shape[0]))
        acts.append(nxt)
    delta = acts[-1] - t
    loss = 0.5 * float(np.sum(delta * delta))

    grads = []
    for l, w in enumerate(weights):
        c = _path_coefficients(weights, l)
        a = acts[l]
        dw = np.zeros(w.shape)
        db = np.zeros(w.shape[1])
        for n in range(a.shape[0]):
            for j in range(w.shape[1]):
                paths_to_outputs = sum(delta[n, k] * c[j, k] for k in range(c.shape[1]))
                db[j] += paths_to_outputs
                for i in range(w.shape[0]):
                    dw[i, j] += a[n, i] * paths_to_outputs
        grads.append((dw.astype(x.dtype), db.astype(x.dtype)))
    return loss, grads
