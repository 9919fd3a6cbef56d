"""One network used from several Python threads at once (fastnn/_sharing.py).

The compiled passes release the GIL, so threads really run them at the same time
here (inputs large enough that the kernels overlap).  Reads return exactly what a
call alone returns; changes run one at a time, so the result is that of some
order of whole calls.
"""

import threading

import numpy as np
import pytest

from conftest import assert_bitwise_equal, data, labels
from fastnn import Dense, Network, ReLU, Tanh

FORMS = ("loops", "matrix")
THREADS = 4
N_IN, K = 64, 10


def _in_threads(work, n=THREADS):
    """Run ``work(i)`` in ``n`` threads started together; their results, in order."""
    start = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as err:  # reported in the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.daemon = True  # a thread that never ends (a lock held forever) fails the test, not the run
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread is still waiting after 120 s"
    if errors:
        raise errors[0]
    return results


def _network(form, dtype=np.float32):
    net = Network([Dense(N_IN, 128), ReLU(), Dense(128, 64), Tanh(), Dense(64, K)], loss="softmax_cross_entropy",
                  form=form, dtype=dtype, seed=0)
    net.fit(data((512, N_IN), dtype, 1), labels(512, K, 2), epochs=2, lr=0.05, seed=0, progress=False)
    return net


@pytest.fixture(scope="module")
def big():
    """36,000 rows (the size at which the race was seen) and their labels."""
    return data((36000, N_IN), np.float32, 3), labels(36000, K, 4)


@pytest.mark.parametrize("form", FORMS)
def test_concurrent_reads_return_what_one_call_returns(form, big):
    net = _network(form)
    x, t = big
    calls = {
        "predict": lambda: net.predict(x),
        "predict_proba": lambda: net.predict_proba(x),
        "predict_classes": lambda: net.predict_classes(x),
        "loss": lambda: np.float64(net.loss(x, t)),
        "gradients": lambda: net.gradients(x[:6000], t[:6000]),
    }
    alone = {name: call() for name, call in calls.items()}
    names = list(calls) * 2

    def work(i):
        # every thread runs every call, each starting at another one
        order = names[i:] + names[:i]
        return [(name, calls[name]()) for name in order]

    for results in _in_threads(work):
        for name, result in results:
            for a, b in zip(np.atleast_1d(alone[name]) if name != "gradients" else sum(alone[name], ()),
                            np.atleast_1d(result) if name != "gradients" else sum(result, ())):
                assert_bitwise_equal(a, b)


@pytest.mark.parametrize("form", FORMS)
def test_concurrent_train_steps_run_one_at_a_time(form):
    # every step is the same map of the parameters, so any order of 100 whole
    # steps gives the bits of 100 steps in a row; a step torn by another is off
    x, t = data((2000, N_IN), np.float32, 5), labels(2000, K, 6)
    alone, shared = _network(form), _network(form)
    for _ in range(THREADS * 25):
        alone.train_step(x, t, lr=0.01, optimizer="sgd", momentum=0.9)
    _in_threads(lambda i: [shared.train_step(x, t, lr=0.01, optimizer="sgd", momentum=0.9) for _ in range(25)])
    assert shared.step_count == alone.step_count
    assert_bitwise_equal(shared.params, alone.params)
    assert_bitwise_equal(shared._state, alone._state)


@pytest.mark.parametrize("form", FORMS)
def test_two_fits_at_once_run_one_after_the_other(form):
    x, t = data((3000, N_IN), np.float32, 7), labels(3000, K, 8)
    alone, shared = _network(form), _network(form)

    def fit(net):
        return net.fit(x, t, epochs=3, batch_size=64, lr=0.02, optimizer="adam", seed=1, progress=False)

    fit(alone)
    fit(alone)
    _in_threads(lambda i: fit(shared), n=2)
    assert_bitwise_equal(shared.params, alone.params)


@pytest.mark.parametrize("form", FORMS)
def test_a_read_during_a_fit_sees_the_network_before_or_after(form, big):
    x, t = big[0][:4000], big[1][:4000]
    net = _network(form)
    before = net.predict(x)
    done = threading.Event()
    seen = []

    def work(i):
        if i == 0:
            try:
                net.fit(x, t, epochs=4, batch_size=32, lr=0.02, seed=2, progress=False)
            finally:
                done.set()
        else:
            while not done.is_set():
                seen.append(net.predict(x))
            seen.append(net.predict(x))

    _in_threads(work, n=3)
    after = net.predict(x)
    assert not np.array_equal(before, after)
    for y in seen:
        assert np.array_equal(y, before) or np.array_equal(y, after)


@pytest.mark.parametrize("form", FORMS)
def test_assigning_weights_during_reads(form, big):
    x = big[0][:8000]
    net = _network(form)
    old_w = net.layers[0].w.copy()
    before = net.predict(x)
    new_w = (old_w * 0.5).astype(np.float32)
    seen = []

    def work(i):
        if i == 0:
            net.layers[0].w = new_w
        else:
            for _ in range(3):
                seen.append(net.predict(x))

    _in_threads(work, n=3)
    after = net.predict(x)
    for y in seen:
        assert np.array_equal(y, before) or np.array_equal(y, after)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_predict_proba_and_partial_fit_from_threads(big):
    sklearn = pytest.importorskip("sklearn")
    from fastnn.sklearn import MLPClassifier

    del sklearn
    x, t = big[0][:6000].astype(np.float64), big[1][:6000]
    make = lambda: MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=3, random_state=0)  # noqa: E731
    clf = make().fit(x[:1000], t[:1000])
    alone = clf.predict_proba(x)
    for p in _in_threads(lambda i: clf.predict_proba(x)):
        assert_bitwise_equal(p, alone)
    # partial_fit with the same data and seed: any order of whole calls is the same
    a, b = make().fit(x[:1000], t[:1000]), make().fit(x[:1000], t[:1000])
    for _ in range(2):
        a.partial_fit(x[:3000], t[:3000])
    _in_threads(lambda i: b.partial_fit(x[:3000], t[:3000]), n=2)
    assert_bitwise_equal(b.predict_proba(x), a.predict_proba(x))


def test_the_thread_that_trains_may_read_and_train_again():
    net = _network("loops")
    x, t = data((64, N_IN), np.float32, 9), labels(64, K, 10)
    seen = []

    def callback(epoch, logs, net):
        seen.append(net.predict(x[:4]))  # a read inside the fit's own hold
        net.train_step(x, t, lr=0.01)  # and a change
        return epoch == 1

    net.fit(x, t, epochs=5, lr=0.01, seed=0, progress=False, callbacks=[callback])
    assert len(seen) == 2 and net.step_count == 2 * 2 + 2
    # the network is free again: another thread can train it
    _in_threads(lambda i: net.train_step(x, t, lr=0.01), n=2)


def test_a_workspace_that_cannot_be_made_leaves_nothing_held():
    from fastnn import _sharing

    def make(batch):
        raise MemoryError("no memory")

    shared = _sharing.Shared(make)
    for start in (shared.start_read, shared.start_write, shared.start_read):
        with pytest.raises(MemoryError):
            _in_threads(lambda i: start(8), n=1)
    # neither a reader nor a writer was left counted: another thread can hold it
    _in_threads(lambda i: shared.end_write(shared.start_write()), n=1)
    _in_threads(lambda i: shared.end_read(shared.start_read()), n=2)
