"""Seconds per fit with solver="lbfgs": fastnn's MLPClassifier (both forms) against
scikit-learn's, on the bundled digits.

Run from the repository root (needs scikit-learn)::

    python benchmarks/sklearn_lbfgs.py

1797 samples of 64 pixels (divided by 16), 10 classes, hidden layer (100,),
``max_iter=200``, ``random_state=0``; float64 and float32 inputs.  Each row is the
median of 5 fits (``fastnn.compare.measure``, after two that compile and warm up),
with the iterations the fit took, which are the same for both libraries when their
trajectories agree.  This file is a script, not an asv benchmark.
"""

import warnings

import numpy as np

from fastnn.compare import measure


def main():
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    from fastnn import sklearn as fastnn_sklearn
    from fastnn.data import load_digits

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits()
    X = X / 16
    settings = dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=200, random_state=0)
    print("| dtype | scikit-learn | fastnn loops | fastnn matrix |")
    print("|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        cells, base = [], None
        for cls, extra in ((neural_network.MLPClassifier, {}), (fastnn_sklearn.MLPClassifier, {"form": "loops"}),
                           (fastnn_sklearn.MLPClassifier, {"form": "matrix"})):
            estimators = []

            def fit():
                estimators.append(cls(**settings, **extra).fit(Xd, y))

            seconds, _ = measure(fit, repeat=5, number=1)
            its = estimators[-1].n_iter_
            if base is None:
                base = seconds
                cells.append(f"{seconds:.3f} s ({its} it.)")
            else:
                cells.append(f"{seconds:.3f} s ({its} it., {base / seconds:.2f}x)")
        print(f"| {np.dtype(dtype).name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
