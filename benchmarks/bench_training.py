"""Training with the public API, both forms side by side, float32, Dense layers with
ReLU between them, softmax cross-entropy on class labels, plain SGD.

Shapes (``common.NETWORKS``): layer widths and batch size, e.g. ``784-256-128-10/b128``.
One step is ``Network.train_step`` on one fixed batch; one epoch is
``fastnn.Trainer(...).epoch()`` over ``common.EPOCH_BATCHES`` batches of seeded,
learnable data (shuffled with a fixed seed).
"""

import numpy as np

from .common import (EPOCH_BATCHES, LR, NETWORKS, batch, classification, network, parse_network,
                     warm_up_network)

FORMS = ["loops", "matrix"]


class TrainStep:
    """One ``Network.train_step`` (validation, forward, loss, backward, update)."""

    params = [NETWORKS]
    param_names = ["network"]
    timeout = 300

    def setup(self, name):
        self.x, self.t = batch(name)
        self.nets = {form: network(name, form) for form in FORMS}
        for net in self.nets.values():
            warm_up_network(net)

    def time_loops(self, name):
        self.nets["loops"].train_step(self.x, self.t, lr=LR)

    def time_matrix(self, name):
        self.nets["matrix"].train_step(self.x, self.t, lr=LR)


class Epoch:
    """One epoch of ``EPOCH_BATCHES`` batches, and the peak memory of a process that
    runs one (the network, its data and buffers included)."""

    params = [NETWORKS]
    param_names = ["network"]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 600

    def setup(self, name):
        from fastnn import Trainer

        widths, size = parse_network(name)
        x, t = classification(EPOCH_BATCHES * size, widths[0], widths[-1], "float32")
        self.trainers = {}
        for form in FORMS:
            net = network(name, form)
            warm_up_network(net)
            self.trainers[form] = Trainer(net, x, t, batch_size=size, lr=LR, seed=0)

    def time_loops(self, name):
        self.trainers["loops"].epoch()

    def time_matrix(self, name):
        self.trainers["matrix"].epoch()

    def peakmem_loops(self, name):
        self.trainers["loops"].epoch()

    def peakmem_matrix(self, name):
        self.trainers["matrix"].epoch()


class FinalLoss:
    """Training-set loss after a fixed seeded run: ``FIT_EPOCHS`` epochs of ``fit`` over
    ``FIT_BATCHES`` batches (lr 0.05, shuffle seed 0, weights seed 0).  The two forms
    should agree to float32 rounding; a jump between commits is a numerical change."""

    FIT_EPOCHS = 3
    FIT_BATCHES = min(EPOCH_BATCHES, 16)
    params = [NETWORKS, FORMS]
    param_names = ["network", "form"]
    timeout = 600
    unit = "loss"

    def setup(self, name, form):
        widths, size = parse_network(name)
        self.x, self.t = classification(self.FIT_BATCHES * size, widths[0], widths[-1], "float32")
        self.net = network(name, form)
        warm_up_network(self.net)  # compiles fit's kernels, as every other setup does
        self.batch_size = size

    def track_final_loss(self, name, form):
        history = self.net.fit(self.x, self.t, epochs=self.FIT_EPOCHS, batch_size=self.batch_size, lr=0.05,
                               seed=0, progress=False)
        loss = self.net.loss(self.x, self.t)
        if not (np.isfinite(loss) and len(history.loss) == self.FIT_EPOCHS):
            raise RuntimeError(f"training run failed: {history!r}, final loss {loss}")
        return loss
