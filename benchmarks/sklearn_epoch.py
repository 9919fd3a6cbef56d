"""Seconds per epoch: fastnn's MLPClassifier (both forms) against scikit-learn's.

Run from the repository root (needs scikit-learn)::

    python benchmarks/sklearn_epoch.py            # float32 and float64

10,000 samples of 784 features in 10 seeded Gaussian classes, hidden layers
(256, 128), batch 128, the same settings for every estimator; each is fitted one
epoch at a time (``max_iter=1, warm_start=True``), and the median over the epochs
after the first two (the first compiles) is reported (``fastnn.compare.measure``).  This file is a script, not an asv
benchmark.
"""

import warnings

import numpy as np

from fastnn.compare import measure

EPOCHS = 4


def _seconds_per_epoch(cls, X, y, **settings):
    estimator = cls(hidden_layer_sizes=(256, 128), batch_size=128, max_iter=1, warm_start=True,
                    random_state=0, shuffle=True, tol=0.0, **settings)
    # each call is one more epoch (warm_start, max_iter=1); the first two warm up
    return measure(lambda: estimator.fit(X, y), repeat=EPOCHS - 1, number=1)[0]


def main():
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    from fastnn import sklearn as fastnn_sklearn

    warnings.simplefilter("ignore", ConvergenceWarning)
    rng = np.random.default_rng(0)
    n, d, k = 10_000, 784, 10
    centers = rng.standard_normal((k, d))
    y = rng.integers(0, k, n)
    X = centers[y] + 2.0 * rng.standard_normal((n, d))
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        for solver in ("adam", "sgd"):
            base = _seconds_per_epoch(neural_network.MLPClassifier, Xd, y, solver=solver)
            cells = [f"{np.dtype(dtype).name} {solver}: scikit-learn {base:.3f} s"]
            for form in ("loops", "matrix"):
                ours = _seconds_per_epoch(fastnn_sklearn.MLPClassifier, Xd, y, solver=solver, form=form)
                cells.append(f"fastnn {form} {ours:.3f} s ({base / ours:.2f}x)")
            print(", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
