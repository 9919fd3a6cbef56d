"""Whole-network passes, loop form: one compiled call per training step or epoch.

A network is described by an int64 table ``spec`` with one row per layer
(:data:`KIND`, :data:`N_IN`, :data:`N_OUT`, :data:`W_OFF`, :data:`B_OFF`): the layer's
kind (an activation code of :mod:`.activations`, or :data:`DENSE`), its widths, and
where its ``w`` (n_in x n_out, C order) and ``b`` start in the flat parameter buffer.

Everything a step touches lives in flat buffers allocated once per (network, batch
size): ``params`` and ``grads`` (same layout), the optimizer state ``m`` and ``s``,
and ``work``, which holds, at the offsets of the int64 table ``layout``:

- ``layout[0]``: the batch input x (n, n_in of layer 0), where a batch is gathered
- ``layout[l + 1]``: the output of layer l (n, N_OUT[l]); the last one is the network output
- ``layout[L + 1]``, ``layout[L + 2]``: two gradient buffers, used in turn going backwards
- ``layout[L + 3]``: the per-sample losses (n,)
- ``layout[L + 4]``: the batch targets (n, K) when targets are not class labels

A buffer laid out for a batch of B samples serves any batch n <= B: each slot's
first n rows are used.  The passes take the batch input ``x`` (and targets ``t`` or
``labels``) as arrays of their own: views of the batch slots when a batch was
gathered there (:func:`_load_batch`), or the caller's arrays as they are (one
``train_step``), which saves copying them.  The kernels of :mod:`.dense`, :mod:`.activations`,
:mod:`.losses` and :mod:`.optim` do the arithmetic; this module only sequences them.
"""

import numpy as np

from .._finite import is_finite
from .._codes import B_OFF, DENSE, KIND, MSE, N_IN, N_OUT, W_OFF
from .._config import SERIAL
from .._jit import jit, unit
from ._views import _rows, _unowned
from .activations import _activation_backward, _activation_forward
from .dense import _dense_backward_input, _dense_backward_params, _dense_forward
from .losses import _loss
from .optim import _optimizer_step



@unit(**SERIAL)
def _forward(spec, params, work, layout, x):
    """Run every layer on the batch x (n, n_in); return the view of the output slot."""
    n = x.shape[0]
    for l in range(spec.shape[0]):
        n_in, n_out = spec[l, N_IN], spec[l, N_OUT]
        if spec[l, KIND] == DENSE:
            x_l = x if l == 0 else _rows(work, layout[l], n, n_in)
            w = _rows(params, spec[l, W_OFF], n_in, n_out)
            b = params[spec[l, B_OFF]:spec[l, B_OFF] + n_out]
            _dense_forward(x_l, w, b, _rows(work, layout[l + 1], n, n_out))
        else:
            # the activation kernels take flat arrays
            x_flat = x.reshape(n * n_in) if l == 0 else work[layout[l]:layout[l] + n * n_in]
            _activation_forward(spec[l, KIND], x_flat, work[layout[l + 1]:layout[l + 1] + n * n_out])
    last = spec.shape[0] - 1
    return _rows(work, layout[last + 1], n, spec[last, N_OUT])


@unit(**SERIAL)
def _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean):
    """Forward pass on the batch x and loss against the class ``labels`` (n,), when
    not empty, or else the targets ``t`` (n, K); writes dE/dy of the output to the
    first gradient buffer."""
    # the caller holds these for the whole call: no reference counting (_unowned)
    spec, params, work, layout = _unowned(spec), _unowned(params), _unowned(work), _unowned(layout)
    x, t, labels = _unowned(x), _unowned(t), _unowned(labels)
    n_layers = spec.shape[0]
    n = x.shape[0]
    y = _forward(spec, params, work, layout, x)
    k = y.shape[1]
    scale = 2.0 / k if loss_code == MSE else 1.0
    if mean:
        scale /= n
    dy = _rows(work, layout[n_layers + 1], n, k)
    per_sample = work[layout[n_layers + 3]:layout[n_layers + 3] + n]
    total = _loss(loss_code, y, t, labels, work.dtype.type(scale), dy, per_sample)
    return total / n if mean else total


@unit(**SERIAL)
def _backward(spec, params, grads, work, layout, x, weight_decay):
    """Fill ``grads`` from dE/dy in the first gradient buffer (as left by the loss on
    the batch x).

    Layers are visited last to first; each Dense layer's input gradient is taken
    with its weights as they were in the forward pass, since nothing is updated
    until every gradient is known.  No input gradient is formed below the first
    Dense layer, where nothing would use it.
    """
    # the caller holds these for the whole call: no reference counting (_unowned)
    spec, params, grads, work = _unowned(spec), _unowned(params), _unowned(grads), _unowned(work)
    layout, x = _unowned(layout), _unowned(x)
    n_layers = spec.shape[0]
    n = x.shape[0]
    first_dense = 0
    while spec[first_dense, KIND] != DENSE:
        first_dense += 1
    cur, other = layout[n_layers + 1], layout[n_layers + 2]
    for l in range(n_layers - 1, first_dense - 1, -1):
        n_in, n_out = spec[l, N_IN], spec[l, N_OUT]
        if spec[l, KIND] == DENSE:
            w_off, b_off = spec[l, W_OFF], spec[l, B_OFF]
            w = _rows(params, w_off, n_in, n_out)
            dw = _rows(grads, w_off, n_in, n_out)
            dy = _rows(work, cur, n, n_out)
            x_l = x if l == 0 else _rows(work, layout[l], n, n_in)
            _dense_backward_params(x_l, dy, dw, grads[b_off:b_off + n_out])
            if weight_decay != 0:
                decay = grads.dtype.type(weight_decay)
                # views, not grads[k] for k from w_off: see _update_block in .optim
                dw_flat = grads[w_off:w_off + n_in * n_out]
                w_flat = params[w_off:w_off + n_in * n_out]
                for k in range(dw_flat.size):
                    dw_flat[k] += decay * w_flat[k]
            if l > first_dense:
                _dense_backward_input(dy, w, _rows(work, other, n, n_in))
        else:
            # l > first_dense >= 0: the input is a layer's output
            size = n * n_in
            _activation_backward(spec[l, KIND], work[layout[l]:layout[l] + size],
                                 work[cur:cur + size], work[other:other + size])
        cur, other = other, cur


@unit(**SERIAL)
def _train_step(spec, params, grads, m, s, hyper, step, work, layout, x, t, labels,
                loss_code, mean, weight_decay, optimizer):
    """One training step on the batch x with targets t or labels (see
    :func:`_forward_loss`); returns (loss, applied).

    The loss is taken before the update.  If it, or any updated parameter, would not
    be finite (a NaN or overflowing gradient, or an overflowing update), the update is
    skipped and nothing is written: a diverging step leaves the parameters (and the
    optimizer's state) as they were.
    """
    # the caller holds these for the whole call: no reference counting (_unowned)
    spec, params, grads, m = _unowned(spec), _unowned(params), _unowned(grads), _unowned(m)
    s, hyper, work, layout = _unowned(s), _unowned(hyper), _unowned(work), _unowned(layout)
    x, t, labels = _unowned(x), _unowned(t), _unowned(labels)
    loss = _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean)
    if not is_finite(loss):
        return loss, False
    _backward(spec, params, grads, work, layout, x, weight_decay)
    return loss, _optimizer_step(optimizer, params, grads, m, s, hyper, step)


@jit(**SERIAL)
def _loss_and_gradient(spec, params, grads, work, layout, x, t, labels, loss_code, mean, weight_decay):
    """The loss on the batch (see :func:`_forward_loss`), returned, and its gradient
    (weight decay added) written to ``grads``: one call per evaluation of a
    full-batch optimizer (L-BFGS)."""
    loss = _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean)
    _backward(spec, params, grads, work, layout, x, weight_decay)
    return loss


@jit(**SERIAL)
def _load_batch(spec, work, layout, label_buf, x, t, labels, order, start, n):
    """Copy samples order[start:start + n] of x, and of labels or t (whichever is
    not empty), into the batch slots; return views of them: (x, t, labels) of the
    batch, t or labels empty like the one given empty."""
    n_layers = spec.shape[0]
    n_in = x.shape[1]
    xb = _rows(work, layout[0], n, n_in)
    for r in range(n):
        src = order[start + r]
        for i in range(n_in):
            xb[r, i] = x[src, i]
    k = t.shape[1]
    if labels.size > 0:
        for r in range(n):
            label_buf[r] = labels[order[start + r]]
        return xb, _rows(work, 0, 0, k), label_buf[:n]
    if t.shape[0] == 0:
        return xb, _rows(work, 0, 0, k), label_buf[:0]
    tb = _rows(work, layout[n_layers + 4], n, k)
    for r in range(n):
        src = order[start + r]
        for c in range(k):
            tb[r, c] = t[src, c]
    return xb, tb, label_buf[:0]


@jit(**SERIAL)
def _train_epoch(spec, params, grads, m, s, hyper, step, work, layout, label_buf, x, t,
                 labels, order, batch_size, loss_code, mean, weight_decay, optimizer,
                 batch_losses):
    """Train on every sample once, in the order given, in batches of ``batch_size``.

    ``step`` is the number of the first step (counted from 1, for Adam).  The loss of
    each batch (before its update) goes to ``batch_losses``.  Returns the number of
    steps applied: fewer than the number of batches when a step's loss or gradients
    were not finite, in which case training stops there with that step not applied.
    """
    # the caller holds these for the whole call: no reference counting (_unowned)
    spec, params, grads, m = _unowned(spec), _unowned(params), _unowned(grads), _unowned(m)
    s, hyper, work, layout = _unowned(s), _unowned(hyper), _unowned(work), _unowned(layout)
    label_buf, x, t, labels = _unowned(label_buf), _unowned(x), _unowned(t), _unowned(labels)
    order, batch_losses = _unowned(order), _unowned(batch_losses)
    total = order.shape[0]
    n_batches = (total + batch_size - 1) // batch_size
    for k in range(n_batches):
        start = k * batch_size
        n = min(batch_size, total - start)
        xb, tb, lab = _load_batch(spec, work, layout, label_buf, x, t, labels, order, start, n)
        loss, applied = _train_step(spec, params, grads, m, s, hyper, step + k, work, layout,
                                    xb, tb, lab, loss_code, mean, weight_decay, optimizer)
        batch_losses[k] = loss
        if not applied:
            return k
    return n_batches


@jit(**SERIAL)
def _predict(spec, params, work, layout, x, out, batch_size):
    """Forward pass over all rows of x, batch by batch, into out (N, K)."""
    # the caller holds these for the whole call: no reference counting (_unowned)
    spec, params, work, layout = _unowned(spec), _unowned(params), _unowned(work), _unowned(layout)
    x, out = _unowned(x), _unowned(out)
    total = x.shape[0]
    order = np.arange(total)
    no_labels = np.empty(0, dtype=np.intp)
    empty_t = x[:0]
    for start in range(0, total, batch_size):
        n = min(batch_size, total - start)
        xb, _, _ = _load_batch(spec, work, layout, no_labels, x, empty_t, no_labels, order, start, n)
        y = _forward(spec, params, work, layout, xb)
        # element by element: an array assigned to a slice brings Numba's
        # shape-mismatch message, whose string formatting is long to compile
        for r in range(n):
            for c in range(y.shape[1]):
                out[start + r, c] = y[r, c]

