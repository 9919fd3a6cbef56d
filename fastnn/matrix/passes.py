"""Whole-network passes, matrix form: the same functions and buffers as
:mod:`fastnn.loops.passes` (see there for the layout), driven layer by layer from
Python with the NumPy kernels of this package.
"""

import numpy as np

from .._codes import (B_OFF, DENSE, HALF_SSE, IDENTITY, KIND, MSE, N_IN, N_OUT, POISSON, RELU, SIGMOID,
                      SIGMOID_CROSS_ENTROPY, TANH, W_OFF)
from . import activations as act
from . import losses
from .dense import dense_backward_input, dense_backward_params, dense_forward
from .optim import _optimizer_step

_FORWARD = {IDENTITY: act.identity, RELU: act.relu, SIGMOID: act.sigmoid, TANH: act.tanh}
_BACKWARD = {IDENTITY: act.identity_backward, RELU: act.relu_backward,
             SIGMOID: act.sigmoid_backward, TANH: act.tanh_backward}


def _rows(flat, off, n, width):
    return flat[off:off + n * width].reshape(n, width)


def _layer_params(spec, params, l):
    n_in, n_out, w_off, b_off = spec[l, N_IN], spec[l, N_OUT], spec[l, W_OFF], spec[l, B_OFF]
    return _rows(params, w_off, n_in, n_out), params[b_off:b_off + n_out]


def _forward(spec, params, work, layout, x):
    n = x.shape[0]
    for l in range(spec.shape[0]):
        x_l = x if l == 0 else _rows(work, layout[l], n, spec[l, N_IN])
        y = _rows(work, layout[l + 1], n, spec[l, N_OUT])
        if spec[l, KIND] == DENSE:
            dense_forward(x_l, *_layer_params(spec, params, l), out=y, check_finite=False)
        else:
            _FORWARD[spec[l, KIND]](x_l, out=y, check_finite=False)
    return y


def _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean):
    n_layers = spec.shape[0]
    y = _forward(spec, params, work, layout, x)
    dy = _rows(work, layout[n_layers + 1], x.shape[0], y.shape[1])
    reduction = "mean" if mean else "sum"
    if loss_code == HALF_SSE:
        loss, _ = losses.half_sse(y, t, out=dy, check_finite=False)
    elif loss_code == MSE:
        loss, _ = losses.mse(y, t, reduction, out=dy, check_finite=False)
    elif loss_code == SIGMOID_CROSS_ENTROPY:
        loss, _ = losses.sigmoid_cross_entropy(y, t, reduction, out=dy, check_finite=False)
    elif loss_code == POISSON:
        loss, _ = losses.poisson(y, t, reduction, out=dy, check_finite=False)
    else:
        target = labels if labels.size > 0 else t
        loss, _ = losses.softmax_cross_entropy(y, target, reduction, out=dy, check_finite=False)
    return float(loss)


def _backward(spec, params, grads, work, layout, x, weight_decay):
    n_layers = spec.shape[0]
    n = x.shape[0]
    first_dense = int(np.flatnonzero(spec[:, KIND] == DENSE)[0])
    cur, other = layout[n_layers + 1], layout[n_layers + 2]
    for l in range(n_layers - 1, first_dense - 1, -1):
        x_l = x if l == 0 else _rows(work, layout[l], n, spec[l, N_IN])
        dy = _rows(work, cur, n, spec[l, N_OUT])
        dx = _rows(work, other, n, spec[l, N_IN])
        if spec[l, KIND] == DENSE:
            w, _ = _layer_params(spec, params, l)
            dw, db = _layer_params(spec, grads, l)
            dense_backward_params(x_l, dy, out=(dw, db), check_finite=False)
            if weight_decay != 0:
                dw += grads.dtype.type(weight_decay) * w
            if l > first_dense:
                dense_backward_input(dy, w, out=dx, check_finite=False)
        else:
            _BACKWARD[spec[l, KIND]](x_l, dy, out=dx, check_finite=False)
        cur, other = other, cur


def _train_step(spec, params, grads, m, s, hyper, step, work, layout, x, t, labels,
                loss_code, mean, weight_decay, optimizer):
    loss = _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean)
    if not np.isfinite(loss):
        return loss, False
    _backward(spec, params, grads, work, layout, x, weight_decay)
    return loss, _optimizer_step(optimizer, params, grads, m, s, hyper, step)


def _loss_and_gradient(spec, params, grads, work, layout, x, t, labels, loss_code, mean, weight_decay):
    loss = _forward_loss(spec, params, work, layout, x, t, labels, loss_code, mean)
    _backward(spec, params, grads, work, layout, x, weight_decay)
    return loss


def _load_batch(spec, work, layout, label_buf, x, t, labels, order, start, n):
    n_layers = spec.shape[0]
    rows = order[start:start + n]
    xb = _rows(work, layout[0], n, x.shape[1])
    xb[...] = x[rows]
    k = t.shape[1]
    if labels.size > 0:
        label_buf[:n] = labels[rows]
        return xb, _rows(work, 0, 0, k), label_buf[:n]
    if t.shape[0] == 0:
        return xb, _rows(work, 0, 0, k), label_buf[:0]
    tb = _rows(work, layout[n_layers + 4], n, k)
    tb[...] = t[rows]
    return xb, tb, label_buf[:0]


def _train_epoch(spec, params, grads, m, s, hyper, step, work, layout, label_buf, x, t,
                 labels, order, batch_size, loss_code, mean, weight_decay, optimizer,
                 batch_losses):
    total = order.shape[0]
    n_batches = -(-total // batch_size)
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


def _predict(spec, params, work, layout, x, out, batch_size):
    for start in range(0, x.shape[0], batch_size):
        n = min(batch_size, x.shape[0] - start)
        xb = _rows(work, layout[0], n, x.shape[1])
        xb[...] = x[start:start + n]
        out[start:start + n] = _forward(spec, params, work, layout, xb)
