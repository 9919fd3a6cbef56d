"""The training step of ``bench_training`` in other libraries, for reference: PyTorch
(eager, ``torch.set_num_threads(2)``), JAX (``jax.jit`` of the whole step, and of a
``lax.scan`` of it over an epoch) and plain NumPy (a hand-written matmul step).

Each peer runs the same step as ``bench_training.TrainStep``: float32, Dense layers
with ReLU between them, softmax cross-entropy ("mean") on class labels, one plain SGD
update (lr ``common.LR``), starting from the same seeded weights and batch.  Only the
step is timed (compilation and first allocations happen in ``setup``).
``track_loss_diff`` is the difference between the peer's loss before its first step
and fastnn's, to show that the same computation runs.

A peer that is not installed is skipped (``NotImplementedError`` in ``setup``).
torch and jax are not dependencies of fastnn: install them to run this file.
"""

import numpy as np

from .common import CORES, LR, NETWORKS, batch, classification, network

EPOCH_BATCHES = 64
"""Batches of the epoch that :class:`JaxScan` runs in one call."""


class _Peer:
    params = [NETWORKS]
    param_names = ["network"]
    timeout = 300

    def setup(self, name):
        x, t = batch(name)
        net = network(name, "matrix")
        weights = [(w.copy(), b.copy()) for w, b in net.parameters()]
        self.fastnn_loss = net.loss(x, t)
        self.prepare(weights, x, t)
        self.first_loss = float(self.step())  # compiles / warms up; the loss before the update

    def time_step(self, name):
        self.step()

    def track_loss_diff(self, name):
        return abs(self.first_loss - self.fastnn_loss)

    track_loss_diff.unit = "abs diff"


class NumPy(_Peer):
    """Forward, softmax cross-entropy, backward and update as NumPy matmuls."""

    def prepare(self, weights, x, t):
        self.weights, self.x, self.t = weights, x, t
        self.rows = np.arange(x.shape[0])

    def step(self):
        n = self.x.shape[0]
        acts = [self.x]
        for k, (w, b) in enumerate(self.weights):
            z = acts[-1] @ w
            z += b
            if k < len(self.weights) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        z = acts.pop()
        z -= z.max(axis=1, keepdims=True)
        z_target = z[self.rows, self.t]
        p = np.exp(z, out=z)
        sums = p.sum(axis=1)
        loss = np.mean(np.log(sums) - z_target)
        p /= sums[:, None]
        p[self.rows, self.t] -= 1
        dz = p
        dz *= np.float32(1 / n)
        for k in range(len(self.weights) - 1, -1, -1):
            w, b = self.weights[k]
            h = acts[k]
            dw, db = h.T @ dz, dz.sum(axis=0)
            if k > 0:
                dz = dz @ w.T
                dz *= h > 0
            w -= np.float32(LR) * dw
            b -= np.float32(LR) * db
        return loss


class Torch(_Peer):
    """PyTorch eager: ``nn.Sequential`` of ``Linear`` and ``ReLU``, ``F.cross_entropy``,
    ``optim.SGD``."""

    def prepare(self, weights, x, t):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed") from None
        torch.set_num_threads(min(2, CORES))
        layers = []
        for w, b in weights:
            linear = torch.nn.Linear(*w.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.t = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
        self.cross_entropy = torch.nn.functional.cross_entropy

    def step(self):
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.cross_entropy(self.model(self.x), self.t)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class Jax(_Peer):
    """JAX: loss, gradient (``jax.value_and_grad``) and update in one ``jax.jit``,
    on the CPU, waiting for the result with ``block_until_ready``."""

    def prepare(self, weights, x, t):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise NotImplementedError("jax is not installed") from None
        jax.config.update("jax_platforms", "cpu")

        def loss_fn(params, x, t):
            h = x
            for w, b in params[:-1]:
                h = jax.nn.relu(h @ w + b)
            w, b = params[-1]
            log_p = jax.nn.log_softmax(h @ w + b)
            return -jnp.mean(jnp.take_along_axis(log_p, t[:, None], axis=1))

        def step(params, x, t):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
            return [(w - LR * gw, b - LR * gb) for (w, b), (gw, gb) in zip(params, grads)], loss

        self.step_function = step
        self.jitted = jax.jit(step, donate_argnums=0)
        self.block_until_ready = jax.block_until_ready
        self.params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
        self.x, self.t = jnp.asarray(x), jnp.asarray(t.astype(np.int32))

    def step(self):
        self.params, loss = self.jitted(self.params, self.x, self.t)
        return self.block_until_ready((self.params, loss))[1]


class JaxScan(Jax):
    """JAX running an epoch of ``EPOCH_BATCHES`` steps in one call, as fastnn's ``fit``
    does: ``jax.lax.scan`` of the step of :class:`Jax` over the batches of the epoch,
    in one ``jax.jit``.  ``step`` runs the whole epoch: ``steps_per_call`` steps (so
    asv's ``time_step`` here is the time of an epoch)."""

    steps_per_call = EPOCH_BATCHES

    def prepare(self, weights, x, t):
        super().prepare(weights, x, t)
        import jax
        import jax.numpy as jnp

        n, n_in = x.shape
        xs, ts = classification(n * EPOCH_BATCHES, n_in, weights[-1][1].shape[0], "float32")
        self.xs = jnp.asarray(xs.reshape(EPOCH_BATCHES, n, n_in))
        self.ts = jnp.asarray(ts.astype(np.int32).reshape(EPOCH_BATCHES, n))
        step = self.step_function

        def epoch(params, xs, ts):
            return jax.lax.scan(lambda p, batch: step(p, *batch), params, (xs, ts))

        self.jitted_epoch = jax.jit(epoch, donate_argnums=0)

    def step(self):
        self.params, losses = self.jitted_epoch(self.params, self.xs, self.ts)
        return self.block_until_ready((self.params, losses))[1][0]
