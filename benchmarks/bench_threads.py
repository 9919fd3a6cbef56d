"""The loop form at 1 and 2 Numba threads (``numba.set_num_threads``, restored in
teardown), float32: the dense kernels and the training step.  The loop form promises
bitwise identical results for any thread count, so only the time may change.

``ThreadCounts`` records the thread counts the rest of the suite ran with.
"""

import numba

from . import bench_kernels as _kernels
from .common import CORES, DENSE_SIZES, LR, NETWORKS, batch, blas_threads, network, warm_up_network

THREADS = [t for t in (1, 2) if t <= numba.config.NUMBA_NUM_THREADS]

_DENSE = {cls.kernel: cls for cls in (_kernels.DenseForward, _kernels.DenseBackwardInput,
                                      _kernels.DenseBackwardParams, _kernels.DenseSgdUpdate)}


class _Threads:
    """Sets the Numba thread count of the parameter ``threads`` (the last parameter)
    after ``prepare`` and restores the previous count in teardown."""

    def setup(self, *params):
        self.saved = numba.get_num_threads()
        self.prepare(*params[:-1])
        numba.set_num_threads(params[-1])

    def teardown(self, *params):
        numba.set_num_threads(self.saved)


class DenseThreads(_Threads):
    """Loop-form dense kernels (see ``bench_kernels``), float32."""

    params = [list(_DENSE), DENSE_SIZES, THREADS]
    param_names = ["kernel", "size", "threads"]
    timeout = 300

    def prepare(self, kernel, size):
        self.bench = _DENSE[kernel]()
        self.bench.setup(size, "float32")

    def time_loops(self, kernel, size, threads):
        self.bench.run("loops")


class TrainStepThreads(_Threads):
    """Loop-form ``Network.train_step`` (see ``bench_training.TrainStep``)."""

    params = [NETWORKS, THREADS]
    param_names = ["network", "threads"]
    timeout = 300

    def prepare(self, name):
        self.x, self.t = batch(name)
        self.net = network(name, "loops")
        warm_up_network(self.net)

    def time_loops(self, name, threads):
        self.net.train_step(self.x, self.t, lr=LR)


class ThreadCounts:
    """Threads in effect while the suite runs (BLAS capped at the usable cores)."""

    unit = "threads"

    def track_numba_threads(self):
        return numba.get_num_threads()

    def track_blas_threads(self):
        return blas_threads()

    def track_cores(self):
        return CORES
