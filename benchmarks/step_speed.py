"""Per-step time of three float32 networks, in microseconds, as JSON: the quick check
of one change, run in two checkouts' venvs alternately::

    for i in 1 2 3; do (cd old && .venv/bin/python -m benchmarks.step_speed)
                       (cd new && .venv/bin/python -m benchmarks.step_speed); done

For each network (:func:`benchmarks.common.network`: ReLU hidden layers, softmax
cross-entropy; SGD): ``fit``, an epoch of 64 batches in one compiled call divided by
64, and ``train_step``, one Python call per step on one batch; medians of 7 samples
of about 0.05 s each, after an epoch and a step that compile or load the kernels.
(``step_table.py`` compares against the peers, one process per cell.)
"""

import json

import numpy as np

from .common import median_seconds, network, parse_network

NETWORKS = ["3-1-2/b1", "64-128-10/b32", "784-256-128-10/b128"]


def main():
    import fastnn

    result = {}
    for name in NETWORKS:
        net = network(name, "loops")
        widths, batch = parse_network(name)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64 * batch, widths[0])).astype(np.float32)
        t = rng.integers(0, widths[-1], 64 * batch)
        trainer = fastnn.Trainer(net, x, t, batch_size=batch, lr=0.001, seed=0)
        fit = median_seconds(trainer.epoch, repeats=7, min_seconds=0.05) / 64
        step = median_seconds(lambda: net.train_step(x[:batch], t[:batch], lr=0.001), repeats=7, min_seconds=0.05)
        result[name] = {"fit_us": round(fit * 1e6, 2), "train_step_us": round(step * 1e6, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
