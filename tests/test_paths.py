"""Path form: gradients of tiny linear networks as sums over paths, vs both forms' chain rule."""

import re

import numpy as np
import pytest

from conftest import FORMS, assert_forms_close, data, mlp_loss_and_grads
from fastnn import paths


def linear_net(widths, seed):
    return [(data((a, b), np.float64, seed + 2 * l), data((b,), np.float64, seed + 2 * l + 1))
            for l, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]


@pytest.mark.parametrize("widths", [[3, 2], [1, 1, 1], [3, 4, 2], [2, 3, 4, 2], [4, 3, 3, 5]],
                         ids=lambda w: "-".join(map(str, w)))
@pytest.mark.parametrize("form_name", list(FORMS))
def test_path_sums_equal_the_chain_rule(widths, form_name):
    n = 5
    params = linear_net(widths, seed=sum(widths))
    x = data((n, widths[0]), np.float64, seed=100)
    t = data((n, widths[-1]), np.float64, seed=101)

    loss, grads = paths.linear_network_gradients(x, params, t)
    chain_loss, chain_grads, _ = mlp_loss_and_grads(FORMS[form_name], params, None, x, t, "half_sse")

    # the path form adds, per weight, n samples x (paths to every output) products of
    # depth factors, in an order of its own; k bounds the number of terms in any sum
    k = n * int(np.prod(widths))
    assert isinstance(loss, float)
    assert_forms_close(chain_loss, loss, np.float64, k=k)
    assert len(grads) == len(params)
    for (dw_p, db_p), (dw_c, db_c), (w, b) in zip(grads, chain_grads, params):
        assert dw_p.shape == w.shape and db_p.shape == b.shape
        assert_forms_close(dw_c, dw_p, np.float64, k=k)
        assert_forms_close(db_c, db_p, np.float64, k=k)
        assert np.max(np.abs(dw_p)) > 1e-3  # not vacuous


def test_one_path_by_hand():
    # x -> (w1, b1) -> h -> (w2, b2) -> y, one unit each, one sample:
    # x = 2, w1 = 3, b1 = 1, w2 = -1, b2 = 0.5, t = 1
    # h = 2·3 + 1 = 7,  y = 7·(−1) + 0.5 = −6.5,  δ = y − t = −7.5,  E = ½·56.25 = 28.125
    # dE/dw2 = h·δ = −52.5          dE/db2 = δ = −7.5
    # dE/dw1 = x·δ·w2 = 2·(−7.5)·(−1) = 15 (the one path from w1 to y goes through w2)
    # dE/db1 = δ·w2 = 7.5
    x = np.array([[2.0]])
    params = [(np.array([[3.0]]), np.array([1.0])), (np.array([[-1.0]]), np.array([0.5]))]
    loss, ((dw1, db1), (dw2, db2)) = paths.linear_network_gradients(x, params, np.array([[1.0]]))
    assert loss == 28.125
    np.testing.assert_array_equal([dw1[0, 0], db1[0], dw2[0, 0], db2[0]], [15.0, 7.5, -52.5, -7.5])


def test_two_paths_by_hand():
    # x (1 input) -> 2 hidden units -> 1 output, biases 0, one sample x = 1, t = 0:
    # w1 = [[1, 2]], w2 = [[3], [4]]: h = [1, 2], y = 1·3 + 2·4 = 11, δ = 11, E = 60.5
    # dE/dw1[0, j] = x·δ·w2[j, 0] = [33, 44]  (one path each)
    # dE/dw2[j, 0] = h_j·δ = [11, 22]
    params = [(np.array([[1.0, 2.0]]), np.zeros(2)), (np.array([[3.0], [4.0]]), np.zeros(1))]
    loss, ((dw1, db1), (dw2, db2)) = paths.linear_network_gradients(np.ones((1, 1)), params, np.zeros((1, 1)))
    assert loss == 60.5
    np.testing.assert_array_equal(dw1, [[33.0, 44.0]])
    np.testing.assert_array_equal(db1, [33.0, 44.0])
    np.testing.assert_array_equal(dw2, [[11.0], [22.0]])
    np.testing.assert_array_equal(db2, [11.0])


def test_gradients_keep_the_dtype_of_x():
    params = [(np.ones((2, 3), np.float32), np.zeros(3, np.float32))]
    _, ((dw, db),) = paths.linear_network_gradients(np.ones((4, 2), np.float32), params,
                                                    np.zeros((4, 3), np.float32))
    assert dw.dtype == db.dtype == np.float32
    # y = [2, 2, 2] for every sample, δ = 2: dw[i, j] = Σ_n x·δ = 4·2 = 8, db = 8
    np.testing.assert_array_equal(dw, np.full((2, 3), 8.0))
    np.testing.assert_array_equal(db, np.full(3, 8.0))


def test_count_paths_by_hand():
    # widths [2, 3, 4]: layer 1 has 3 units with 4 paths each (one per output), layer 2 has 4
    # units with one path each: 3·4 + 4 = 16
    assert paths.count_paths([2, 3, 4]) == 16
    # [5, 2, 3, 2]: 2·(3·2) + 3·2 + 2 = 20
    assert paths.count_paths([5, 2, 3, 2]) == 20


def test_too_large_network_is_refused_with_a_clear_message():
    widths = [2, 50, 50, 50]  # 50³ + 50² + 50 = 127,550 paths > MAX_PATHS = 100,000
    assert paths.count_paths(widths) == 127_550 > paths.MAX_PATHS
    params = [(np.zeros((a, b)), np.zeros(b)) for a, b in zip(widths[:-1], widths[1:])]
    with pytest.raises(ValueError, match=r"this network has 127550 paths, more than the path form's "
                                         r"limit of 100000.*use fastnn.loops or fastnn.matrix"):
        paths.linear_network_gradients(np.zeros((1, 2)), params, np.zeros((1, 50)))
    # just below the limit is accepted: [1, 46, 46, 46] has 46³ + 46² + 46 = 99,498 paths
    assert paths.count_paths([1, 46, 46, 46]) == 99_498


@pytest.mark.parametrize("params, message", [
    ([], "params must be a non-empty list of (w, b) pairs"),
    ([(np.ones((2, 3)),)], "params[0] must be a pair (w, b)"),
    ([(np.ones((3, 3)), np.ones(3))],
     "params[0][0] (w) must have 2 rows to follow the previous layer, got shape (3, 3)"),
    ([(np.ones((2, 3)), np.ones(3)), (np.ones((2, 1)), np.ones(1))],
     "params[1][0] (w) must have 3 rows to follow the previous layer"),
    ([(np.ones((2, 3)), np.ones(2))], "params[0][1] (b) must have shape (n_out,) = (3,), got (2,)"),
    ([(np.ones((2, 3), np.float32), np.ones(3))], "params[0][0] (w) has dtype float32 but x has dtype float64"),
])
def test_bad_params(params, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        paths.linear_network_gradients(np.ones((4, 2)), params, np.ones((4, 3)))


def test_non_finite_inputs_and_bad_params_are_refused():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((2, 2)), rng.standard_normal((2, 1))
    params = [(rng.standard_normal((2, 1)), np.zeros(1))]
    for bad, name in ((x, "x"), (params[0][0], r"params\[0\]\[0\] \(w\)"), (t, "t")):
        saved = bad[0, 0]
        bad[0, 0] = np.nan
        with pytest.raises(ValueError, match=f"{name} contains a non-finite value"):
            paths.linear_network_gradients(x, params, t)
        bad[0, 0] = saved
    with pytest.raises(ValueError, match="non-empty list of"):
        paths.linear_network_gradients(x, np.zeros((1, 2)), t)
    with pytest.raises(ValueError, match="non-empty list of"):
        paths.linear_network_gradients(x, [], t)
