"""Network: both forms agree, initialization, gradients by finite differences,
parameter views, construction errors, save and load."""

import re

import numpy as np
import pytest

from conftest import (DTYPES, FD_ATOL, FD_RTOL, assert_bitwise_equal, data, labels,
                      numerical_gradient, one_hot)
from fastnn import Dense, Identity, Network, ReLU, Sigmoid, Tanh

ACTIVATIONS = (Identity, ReLU, Sigmoid, Tanh)
N_IN, N_OUT, N = 4, 3, 11

# --- THE tolerances of the loop form against the matrix form, for whole networks ----------
#
# The forms sum in different orders (NumPy/BLAS blocks; the loop form vectorizes under
# `reassoc` and fuses under `contract`) and use different exp/tanh, so each kernel
# agrees to a few ulps (tests/conftest.py).  A network chains up to 3 dense layers and 3
# activations (sums of <= 11 terms), then a loss and the backward pass, and training
# feeds each difference back through up to ~10 steps, where a gradient of size ~1 times
# lr moves it again.  Measured worst case over these tests: 33 ulps (float64, parameters
# after 3 epochs of Adam), 3 ulps in float32.  So: 2**8 ulps of the dtype (8x margin),
# relative, and the same times the magnitude of the compared array as an absolute floor
# (for entries that cancel to ~0).  A wrong formula (a missing term, a wrong sign or
# scale) is off by O(1); do not raise this to make a test pass.
FORM_ULPS = 2 ** 8


def form_tolerance(dtype):
    return FORM_ULPS * float(np.finfo(dtype).eps)


def assert_forms_agree(loop_value, matrix_value, dtype, what=""):
    a, b = np.asarray(loop_value, dtype=np.float64), np.asarray(matrix_value, dtype=np.float64)
    assert a.shape == b.shape, what
    tol = form_tolerance(dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(b)))), err_msg=what)


# --- networks and data --------------------------------------------------------------------------


def layers_starting_with(first, n_out=N_OUT):
    """[first, Dense, next, Dense, next, Dense]: the activations rotate, so over the four
    choices of ``first`` every activation appears in every position (first included)."""
    k = ACTIVATIONS.index(first)
    acts = [ACTIVATIONS[(k + j) % 4] for j in range(3)]
    return [acts[0](), Dense(N_IN, 6), acts[1](), Dense(6, 5), acts[2](), Dense(5, n_out)]


def mlp(n_out=N_OUT, hidden=ReLU):
    return [Dense(N_IN, 5), hidden(), Dense(5, n_out)]


# (loss, reduction, target kind): every loss, both reductions, labels and one-hot
LOSS_CASES = [("mse", "mean", "rows"), ("mse", "sum", "rows"), ("half_sse", "sum", "rows"),
              ("softmax_cross_entropy", "mean", "labels"), ("softmax_cross_entropy", "sum", "labels"),
              ("softmax_cross_entropy", "mean", "one_hot"), ("softmax_cross_entropy", "sum", "one_hot")]
LOSS_IDS = ["-".join(c) for c in LOSS_CASES]


def dataset(target, dtype=np.float64, n=N, seed=0, n_out=N_OUT):
    X = data((n, N_IN), dtype, seed)
    if target == "rows":
        return X, data((n, n_out), dtype, seed + 1)
    lab = labels(n, n_out, seed + 2)
    return X, (lab if target == "labels" else one_hot(lab, n_out, dtype))


def pair(make_layers, **kwargs):
    """The same network in both forms."""
    return [Network(make_layers(), form=form, **kwargs) for form in ("loops", "matrix")]


def assert_params_unchanged(net, before):
    assert_bitwise_equal(net.params, before)


def offset_in_params(net, view):
    """Where ``view`` (a layer's w or b) starts in ``net.params``, in elements."""
    nbytes = view.__array_interface__["data"][0] - net.params.__array_interface__["data"][0]
    return nbytes // net.params.itemsize


# --- the forms agree ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss, reduction, target", LOSS_CASES, ids=LOSS_IDS)
@pytest.mark.parametrize("first", ACTIVATIONS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_forms_agree_on_predict_loss_gradients_and_steps(first, loss, reduction, target, dtype):
    nets = pair(lambda: layers_starting_with(first), loss=loss, reduction=reduction, dtype=dtype, seed=3)
    X, T = dataset(target, dtype)
    assert_bitwise_equal(nets[0].params, nets[1].params)
    for method in ("predict", "predict_classes") + (("predict_proba",) if target != "rows" else ()):
        a, b = (getattr(net, method)(X) for net in nets)
        assert a.shape == b.shape
        assert a.dtype == (np.dtype(dtype) if method != "predict_classes" else np.intp)
        assert_forms_agree(a, b, dtype, method)
    assert_forms_agree(nets[0].loss(X, T), nets[1].loss(X, T), dtype, "loss")
    for wd in (0.0, 0.3):
        grads = [net.gradients(X, T, weight_decay=wd) for net in nets]
        for (dw0, db0), (dw1, db1) in zip(*grads):
            assert dw0.dtype == np.dtype(dtype)
            assert_forms_agree(dw0, dw1, dtype, "dw")
            assert_forms_agree(db0, db1, dtype, "db")
    for step in range(4):
        losses = [net.train_step(X, T, lr=0.05) for net in nets]
        assert_forms_agree(losses[0], losses[1], dtype, f"loss of step {step}")
        assert_forms_agree(nets[0].params, nets[1].params, dtype, f"params after step {step}")
    assert not np.array_equal(nets[0].params, Network(layers_starting_with(first), loss=loss, dtype=dtype,
                                                      seed=3).params), "training did not move the parameters"


OPTIMIZERS = {
    "sgd": dict(optimizer="sgd"),
    "sgd-decay": dict(optimizer="sgd", weight_decay=0.01),
    "momentum": dict(optimizer="sgd", momentum=0.9),
    "nesterov": dict(optimizer="sgd", momentum=0.9, nesterov=True),
    "nesterov-decay": dict(optimizer="sgd", momentum=0.5, nesterov=True, weight_decay=0.05),
    "adam": dict(optimizer="adam"),
    "adam-decay": dict(optimizer="adam", weight_decay=0.01),
}


@pytest.mark.parametrize("loss, reduction, target", [LOSS_CASES[0], LOSS_CASES[2], LOSS_CASES[4], LOSS_CASES[5]],
                         ids=[LOSS_IDS[0], LOSS_IDS[2], LOSS_IDS[4], LOSS_IDS[5]])
@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_forms_agree_after_fit(opt, loss, reduction, target, dtype):
    nets = pair(lambda: layers_starting_with(Tanh), loss=loss, reduction=reduction, dtype=dtype, seed=4)
    X, T = dataset(target, dtype, n=20)
    start = nets[0].params.copy()
    lr = 0.01 if reduction == "sum" or loss == "half_sse" else 0.05
    hists = [net.fit(X, T, epochs=3, batch_size=6, lr=lr, seed=1, progress=False, **OPTIMIZERS[opt])
             for net in nets]
    assert hists[0].epochs == hists[1].epochs == 3
    assert_forms_agree(hists[0].loss, hists[1].loss, dtype, "epoch losses")
    assert_forms_agree(nets[0].params, nets[1].params, dtype, "params after fit")
    assert np.max(np.abs(nets[0].params - start)) > 1e-3, "fit did not move the parameters"
    assert nets[0].step_count == nets[1].step_count == 3 * 4


# --- initialization ----------------------------------------------------------------------------


def expected_init(net, seed):
    """The documented rule, written independently: U(-a, a) in float64, layer by layer,
    a = sqrt(6 / n_in) before a ReLU (He), sqrt(6 / (n_in + n_out)) otherwise (Glorot)."""
    rng = np.random.default_rng(seed)
    out = []
    for pos, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            relu_next = pos + 1 < len(net.layers) and isinstance(net.layers[pos + 1], ReLU)
            bound = np.sqrt(6.0 / (layer.n_in if relu_next else layer.n_in + layer.n_out))
            out.append((rng.uniform(-bound, bound, (layer.n_in, layer.n_out)), bound))
    return out


def init_layers():
    return [Dense(40, 50), ReLU(), Dense(50, 30), Tanh(), Dense(30, 20), ReLU(), Dense(20, 3)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_same_seed_same_network_in_both_forms(dtype):
    nets = pair(init_layers, dtype=dtype, seed=7)
    assert_bitwise_equal(nets[0].params, nets[1].params)
    other = Network(init_layers(), dtype=np.float64 if dtype == np.float32 else np.float32, seed=7)
    # float32 networks hold the float64 draws rounded once
    lo, hi = sorted([nets[0], other], key=lambda n: n.dtype.itemsize)
    assert_bitwise_equal(lo.params, hi.params.astype(np.float32))


def test_different_seeds_differ_and_init_params_redraws():
    a, b = Network(init_layers(), seed=1), Network(init_layers(), seed=2)
    for (wa, _), (wb, _) in zip(a.parameters(), b.parameters()):
        assert not np.any(wa == wb)
    a.init_params(2)
    assert_bitwise_equal(a.params, b.params)


def test_init_follows_he_and_glorot_bounds():
    net = Network(init_layers(), dtype="float64", seed=11)
    bounds = []
    for (w, b), (want, bound) in zip(net.parameters(), expected_init(net, 11)):
        assert_bitwise_equal(w, want)
        assert np.all(b == 0)
        assert np.max(np.abs(w)) <= bound and np.max(np.abs(w)) > 0.9 * bound
        bounds.append(bound)
    np.testing.assert_allclose(bounds, [np.sqrt(6 / 40), np.sqrt(6 / 80), np.sqrt(6 / 30), np.sqrt(6 / 23)])


def test_padding_between_slots_is_zero():
    net = Network(init_layers(), seed=0)
    mask = np.ones(net.params.size, bool)
    for w, b in net.parameters():
        for view in (w, b):
            start = offset_in_params(net, view)
            mask[start:start + view.size] = False
    assert net.n_params == net.params.size - mask.sum()
    assert np.all(net.params[mask] == 0)


# --- gradients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss, reduction, target", LOSS_CASES, ids=LOSS_IDS)
@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_gradients_match_finite_differences(form, loss, reduction, target):
    net = Network([Tanh(), Dense(N_IN, 5), Sigmoid(), Dense(5, 4), ReLU(), Dense(4, N_OUT)], loss=loss,
                  reduction=reduction, form=form, dtype="float64", seed=5)
    X, T = dataset(target, n=7)
    before = net.params.copy()
    grads = net.gradients(X, T)
    assert_params_unchanged(net, before)
    for layer, (dw, db) in zip(net.dense_layers, grads):
        for analytic, param in ((dw, layer.w), (db, layer.b)):
            numeric = numerical_gradient(lambda: net.loss(X, T), param)
            np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)
            assert np.max(np.abs(numeric)) > 1e-4
    assert_params_unchanged(net, before)


@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_weight_decay_adds_lambda_w_to_dw_only(form):
    net = Network(mlp(), form=form, dtype="float64", seed=6)
    X, T = dataset("rows", n=5)
    before = net.params.copy()
    plain, decayed = net.gradients(X, T), net.gradients(X, T, weight_decay=0.25)
    for (dw0, db0), (dw1, db1), (w, _) in zip(plain, decayed, net.parameters()):
        np.testing.assert_allclose(dw1, dw0 + 0.25 * w, rtol=1e-14, atol=1e-15)
        assert_bitwise_equal(db1, db0)
    assert_params_unchanged(net, before)
    for bad in (-0.1, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
            net.gradients(X, T, weight_decay=bad)


def test_mean_is_sum_divided_by_n():
    X, T = dataset("labels", n=8)
    nets = [Network(mlp(), loss="softmax_cross_entropy", reduction=r, dtype="float64", seed=1) for r in ("mean", "sum")]
    np.testing.assert_allclose(nets[0].loss(X, T) * 8, nets[1].loss(X, T), rtol=1e-14)
    for (a, _), (b, _) in zip(nets[0].gradients(X, T), nets[1].gradients(X, T)):
        np.testing.assert_allclose(a * 8, b, rtol=1e-12, atol=1e-15)


def test_loss_by_hand():
    net = Network([Dense(2, 2)], loss="mse", dtype="float64", seed=0)
    net.layers[0].w = [[1.0, 0.0], [0.0, 2.0]]
    net.layers[0].b = [0.5, -1.0]
    X, T = np.array([[1.0, 1.0], [0.0, 2.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    y = X @ np.array([[1.0, 0.0], [0.0, 2.0]]) + [0.5, -1.0]
    np.testing.assert_array_equal(net.predict(X), y)
    assert net.loss(X, T) == pytest.approx(np.mean((y - T) ** 2), rel=1e-15)


def test_predict_in_chunks_equals_one_chunk():
    net = Network(mlp(), dtype="float64", seed=2)
    X = data((37, N_IN), np.float64, 0)
    np.testing.assert_array_equal(net.predict(X, batch_size=5), net.predict(X))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        net.predict(X, batch_size=0)


def test_predict_proba_rows_sum_to_one_and_needs_cross_entropy():
    net = Network(mlp(), loss="softmax_cross_entropy", dtype="float64", seed=2)
    X = data((6, N_IN), np.float64, 0)
    p = net.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-14)
    z = net.predict(X)
    np.testing.assert_allclose(p, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-14)
    with pytest.raises(ValueError, match="predict_proba needs loss='softmax_cross_entropy'"):
        Network(mlp()).predict_proba(X)


# --- views into params -----------------------------------------------------------------------------


def test_layer_weights_are_views_into_params():
    net = Network(mlp(), dtype="float64", seed=0)
    X = data((4, N_IN), np.float64, 1)
    layer = net.layers[0]
    assert np.shares_memory(layer.w, net.params) and np.shares_memory(layer.b, net.params)
    before = net.predict(X)
    layer.w[...] = 0
    after = net.predict(X)
    assert not np.allclose(before, after)
    # with w = 0 the first layer outputs its bias: the output no longer depends on X
    np.testing.assert_array_equal(after, np.broadcast_to(after[0], after.shape))
    layer.b = np.arange(5.0)
    np.testing.assert_array_equal(layer.b, np.arange(5.0))
    assert np.shares_memory(layer.b, net.params)


@pytest.mark.parametrize("attr, value, fragment", [
    ("w", np.zeros((5, 4)), "w must have shape (4, 5), got (5, 4)"),
    ("w", np.zeros(20), "w must have shape (4, 5), got (20,)"),
    ("b", np.zeros(4), "b must have shape (5,), got (4,)"),
    ("w", np.full((4, 5), np.nan), "w contains NaN or infinity"),
])
def test_assigning_a_bad_array_raises_and_changes_nothing(attr, value, fragment):
    net = Network(mlp(), seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=re.escape(fragment)):
        setattr(net.layers[0], attr, value)
    assert_params_unchanged(net, before)


def test_weights_of_a_free_layer_do_not_exist_yet():
    layer = Dense(2, 3)
    assert layer.w is None
    with pytest.raises(AttributeError, match="once the layer is part of a Network"):
        layer.w = np.zeros((2, 3))


# --- construction errors ---------------------------------------------------------------------------


def _reused():
    d = Dense(4, 3)
    Network([d])
    return [d]


def _twice():
    d = Dense(3, 3)
    return [Dense(4, 3), d, ReLU(), d]


@pytest.mark.parametrize("make, kwargs, exc, fragment", [
    (lambda: [], {}, ValueError, "layers must hold at least one layer"),
    (lambda: [ReLU(), Tanh()], {}, ValueError, "at least one Dense layer"),
    (lambda: [Dense(4, 5), ReLU(), Dense(6, 3)], {}, ValueError, "layers[2] is Dense(6, 3) but its input has width 5"),
    (lambda: [Dense(4, 5), "relu"], {}, TypeError, "layers[1] must be a Dense or activation layer"),
    (_reused, {}, ValueError, "layers[0] (Dense(4, 3)) already belongs to another Network"),
    (_twice, {}, ValueError, "layers[3] (Dense(3, 3)) appears twice"),
    (mlp, {"loss": "mae"}, ValueError, "loss must be one of mse, half_sse, softmax_cross_entropy, sigmoid_cross_entropy, poisson, got 'mae'"),
    (mlp, {"form": "fast"}, ValueError, "form must be 'loops' or 'matrix', got 'fast'"),
    (mlp, {"dtype": "float16"}, TypeError, "dtype must be float32 or float64, got float16"),
    (mlp, {"dtype": "double-ish"}, TypeError, "dtype must be float32 or float64"),
    (mlp, {"reduction": "max"}, ValueError, "reduction must be 'mean' or 'sum', got 'max'"),
    (lambda: mlp(n_out=1), {"loss": "softmax_cross_entropy"}, ValueError, "softmax_cross_entropy needs at least 2 outputs"),
])
def test_construction_errors(make, kwargs, exc, fragment):
    layers = make()
    with pytest.raises(exc, match=re.escape(fragment)):
        Network(layers, **kwargs)
    # a failed construction leaves the layers free for another network
    if layers and all(isinstance(l, (Dense, *ACTIVATIONS)) for l in layers) and make is not _reused:
        assert all(l._network is None for l in layers)


@pytest.mark.parametrize("n_in, n_out", [(0, 3), (3, -1), (2.5, 3), (True, 3)])
def test_dense_widths_must_be_positive_integers(n_in, n_out):
    with pytest.raises(ValueError, match="must be a positive integer"):
        Dense(n_in, n_out)


# --- save and load -----------------------------------------------------------------------------------


@pytest.mark.parametrize("save_form, load_form", [("loops", "loops"), ("matrix", "matrix"), ("loops", "matrix")])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_save_load_round_trip_is_bitwise(tmp_path, dtype, save_form, load_form):
    net = Network(layers_starting_with(Sigmoid), loss="softmax_cross_entropy", reduction="sum", form=save_form,
                  dtype=dtype, seed=9)
    X, T = dataset("labels", dtype)
    net.train_step(X, T, lr=0.1)  # not the initial parameters
    path = tmp_path / "net.npz"
    net.save(path)
    back = Network.load(path, form=load_form)
    assert back.form == load_form and back.dtype == np.dtype(dtype)
    assert (back.loss_name, back.reduction) == ("softmax_cross_entropy", "sum")
    assert [type(l) for l in back.layers] == [type(l) for l in net.layers]
    for (w0, b0), (w1, b1) in zip(net.parameters(), back.parameters()):
        assert_bitwise_equal(w0, w1)
        assert_bitwise_equal(b0, b1)
    assert_bitwise_equal(back.params, net.params)
    if load_form == save_form:
        assert_bitwise_equal(back.predict(X), net.predict(X))
    else:
        assert_forms_agree(back.predict(X), net.predict(X), dtype)


def _good_arrays(tmp_path):
    Network(mlp(n_out=2), seed=0).save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as f:
        return {k: f[k] for k in f.files}


def _write(tmp_path, **changes):
    arrays = _good_arrays(tmp_path)
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("make, exc, fragment", [
    (lambda p: p / "missing.npz", FileNotFoundError, "missing.npz"),
    (lambda p: (p / "text.npz").write_text("hello") and p / "text.npz", ValueError, "not a readable .npz file"),
    (lambda p: np.save(p / "array.npy", np.zeros(3)) or p / "array.npy", ValueError, "not a fastnn network file"),
    (lambda p: np.savez(p / "other.npz", a=np.zeros(3)) or p / "other.npz", ValueError,
     "not a fastnn network file (no format marker 'fastnn-network')"),
    (lambda p: _write(p, format=np.array("something-else")), ValueError, "no format marker"),
    (lambda p: _write(p, version=np.array(2)), ValueError, "format version 2 is not supported"),
    (lambda p: _write(p, w1=None), ValueError, "missing array 'w1'"),
    (lambda p: _write(p, dtype=None), ValueError, "missing array 'dtype'"),
    (lambda p: _write(p, b0=np.zeros(4, np.float32)), ValueError, "array 'b0' must be float32 of shape (5,)"),
    (lambda p: _write(p, w0=np.zeros((4, 5))), ValueError, "array 'w0' must be float32 of shape (4, 5), got float64"),
    (lambda p: _write(p, widths=np.zeros((2, 2), np.int64)), ValueError, "'widths' must be integers of shape (3, 2)"),
    (lambda p: _write(p, layers=np.array(["dense", "gelu", "dense"])), ValueError, "unknown layer 'gelu'"),
])
def test_load_rejects_bad_files_with_a_clear_message(tmp_path, make, exc, fragment):
    path = make(tmp_path)
    with pytest.raises(exc, match=re.escape(fragment)) as info:
        Network.load(path)
    if exc is ValueError:
        assert str(path) in str(info.value)


def test_good_file_written_by_hand_loads(tmp_path):
    # the helper above writes valid files unless told otherwise: the failures are real
    net = Network.load(_write(tmp_path))
    assert net.n_in == N_IN and net.n_out == 2 and net.dtype == np.float32


@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_pickle_round_trip_keeps_views_alignment_and_optimizer_state(form):
    import pickle

    net = Network([Dense(3, 4), ReLU(), Dense(4, 2)], loss="softmax_cross_entropy", form=form, seed=0)
    X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    net.train_step(X, y, lr=0.1, optimizer="adam")
    copy = pickle.loads(pickle.dumps(net))
    assert np.array_equal(copy.params, net.params) and copy.step_count == net.step_count
    assert copy.params.ctypes.data % 64 == 0
    copy.layers[0].w[...] = 0  # a view of the copy's buffer, not of the original's
    assert np.all(copy.params[:12] == 0) and not np.all(net.layers[0].w == 0)
    net.layers[0].w[...] = 0
    assert copy.train_step(X, y, lr=0.1, optimizer="adam") == net.train_step(X, y, lr=0.1, optimizer="adam")
    assert np.array_equal(copy.params, net.params)


# --- the epoch entry point (what fastnn.Trainer uses) ----------------------------------------


@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_train_epoch_equals_train_steps_on_the_same_batches(form):
    X, T = dataset("labels", np.float64, n=10)
    by_epoch, by_steps = (Network(mlp(), loss="softmax_cross_entropy", form=form, dtype=np.float64, seed=2)
                          for _ in range(2))
    order = np.array([3, 1, 4, 0, 9, 2, 6, 5, 8, 7])
    loss = by_epoch.train_epoch(by_epoch.training_data(X, T), order, 4, lr=0.1, optimizer="adam")
    step_losses = [by_steps.train_step(X[order[k:k + 4]], T[order[k:k + 4]], lr=0.1, optimizer="adam")
                   for k in range(0, 10, 4)]
    assert_bitwise_equal(by_epoch.params, by_steps.params)
    assert by_epoch.step_count == by_steps.step_count == 3
    assert loss == pytest.approx(np.dot(step_losses, [4, 4, 2]) / 10, rel=1e-12)


def test_train_epoch_refuses_bad_input_and_changes_nothing():
    X, T = dataset("labels")
    net, other = (Network(mlp(), loss="softmax_cross_entropy", seed=0) for _ in range(2))
    data = net.training_data(X, T)
    before = net.params.copy()
    for args, kwargs, exc, fragment in [
        ((other.training_data(X, T), np.arange(N), 4), {}, ValueError, "this network's training_data"),
        (((X, T), np.arange(N), 4), {}, ValueError, "this network's training_data"),
        ((data, np.array([0, N]), 4), {}, ValueError, "outside 0..10"),
        ((data, np.array([], dtype=int), 4), {}, ValueError, "non-empty 1-D array"),
        ((data, np.arange(N), 0), {}, ValueError, "batch_size must be a positive integer"),
        ((data, np.arange(N), 4), {"lr": -1.0}, ValueError, "lr must be > 0"),
    ]:
        with pytest.raises(exc, match=re.escape(fragment)):
            net.train_epoch(*args, **kwargs)
    assert_bitwise_equal(net.params, before)
    assert net.step_count == 0


def test_check_optimizer_raises_what_train_step_would_and_changes_nothing():
    net = Network(mlp(), seed=0)
    X, T = dataset("rows")
    net.train_step(X, T, lr=0.1, optimizer="adam")
    state = net._state.copy()
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        net.check_optimizer(optimizer="lbfgs")
    net.check_optimizer(optimizer="sgd", lr=0.5, momentum=0.9)  # other settings: nothing reset
    assert net.step_count == 1 and np.array_equal(net._state, state)


# --- sigmoid cross-entropy: binary and multi-label outputs ---------------------------------


@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_sigmoid_cross_entropy_network(form, tmp_path):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, N_IN))
    T = (X @ rng.standard_normal((N_IN, 3)) > 0).astype(np.float64)  # 3 labels per row
    net = Network(mlp(n_out=3, hidden=Tanh), loss="sigmoid_cross_entropy", form=form, dtype=np.float64, seed=1)
    other = Network(mlp(n_out=3, hidden=Tanh), loss="sigmoid_cross_entropy",
                    form="matrix" if form == "loops" else "loops", dtype=np.float64, seed=1)
    for n in (net, other):
        n.fit(X, T, epochs=20, batch_size=8, lr=0.05, optimizer="adam", seed=0, progress=False)
    np.testing.assert_allclose(net.params, other.params, rtol=0, atol=1e-10)
    p = net.predict_proba(X)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-net.predict(X))), rtol=1e-14)
    assert np.mean((p > 0.5) == T) > 0.9
    net.save(tmp_path / "net.npz")
    assert Network.load(tmp_path / "net.npz", form=form).loss_name == "sigmoid_cross_entropy"
    with pytest.raises(ValueError, match=r"T must hold values in \[0, 1\]"):
        net.train_step(X, 2 * T, lr=0.1)
    with pytest.raises(ValueError, match=r"must have shape \(60, 3\)"):
        net.loss(X, T[:, 0])


@pytest.mark.parametrize("form", ["loops", "matrix"])
def test_poisson_network(form):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, N_IN))
    T = rng.poisson(np.exp(0.4 * X[:, :2])).astype(np.float64)  # counts, 2 outputs
    net = Network(mlp(n_out=2, hidden=Tanh), loss="poisson", form=form, dtype=np.float64, seed=1)
    history = net.fit(X, T, epochs=30, batch_size=16, lr=0.02, optimizer="adam", seed=0, progress=False)
    assert history.loss[-1] < history.loss[0]
    with pytest.raises(ValueError, match=r"T must hold values >= 0"):
        net.train_step(X, -T, lr=0.1)
    with pytest.raises(ValueError, match="predict_proba needs"):
        net.predict_proba(X)
