"""Every public kernel in both forms, side by side: ``time_loops`` (fastnn.loops, Numba)
and ``time_matrix`` (fastnn.matrix, NumPy) on the same seeded inputs, plus
``track_max_abs_diff`` between the two results and, for the dense kernels, the
rate in GFLOP/s of each form.

What is timed is the kernel: output buffers are allocated in ``setup`` and passed
as ``out``, and ``check_finite=False`` (input validation is the same code in both
forms).  Kernels are compiled in ``setup`` (see ``common.warm_up``).
"""

import numpy as np

from .common import DENSE_SIZES, DTYPES, ROW_SHAPES, array, forms, labels, median_seconds, warm_up


class _Kernel:
    """Base of one kernel's benchmarks.  A subclass names the ``kernel`` (a public
    function of both forms) and defines ``inputs(*params)``, which returns
    ``(args, kwargs, outputs)`` for one form: outputs being the arrays the call
    writes, which the two forms must agree on."""

    kernel = None
    timeout = 300

    def inputs(self, *params):
        raise NotImplementedError

    def kernel_name(self, *params):
        return self.kernel

    def setup(self, *params):
        self.params = params
        self.calls = {}
        for form, module in forms().items():
            fn = getattr(module, self.kernel_name(*params))
            args, kwargs, outputs = self.inputs(*params)
            kwargs["check_finite"] = False
            warm_up(fn, *args, **kwargs)
            self.calls[form] = (fn, args, kwargs, outputs)

    def run(self, form):
        fn, args, kwargs, _ = self.calls[form]
        return fn(*args, **kwargs)

    def result(self, form):
        """Run ``form`` once; return the arrays the two forms must agree on."""
        self.run(form)
        return self.calls[form][3]

    def time_loops(self, *params):
        self.run("loops")

    def time_matrix(self, *params):
        self.run("matrix")

    def track_max_abs_diff(self, *params):
        self.setup(*params)  # fresh outputs (an in-place kernel may have run before)
        loops, matrix = ([np.asarray(a, dtype=np.float64) for a in self.result(form)] for form in self.calls)
        return max(float(np.max(np.abs(a - b))) for a, b in zip(loops, matrix))

    track_max_abs_diff.unit = "abs diff"


class _Dense(_Kernel):
    params = [DENSE_SIZES, DTYPES]
    param_names = ["size", "dtype"]

    def gflops(self, form, size):
        batch, n_in, n_out = size
        return 2.0 * batch * n_in * n_out / median_seconds(lambda: self.run(form)) / 1e9

    def track_gflops_loops(self, size, dtype):
        return self.gflops("loops", size)

    def track_gflops_matrix(self, size, dtype):
        return self.gflops("matrix", size)

    track_gflops_loops.unit = track_gflops_matrix.unit = "GFLOP/s"


def _weights(n_in, n_out, dtype):
    return array("w", (n_in, n_out), dtype, scale=1 / np.sqrt(n_in))


class DenseForward(_Dense):
    """y = x w + b."""

    kernel = "dense_forward"

    def inputs(self, size, dtype):
        batch, n_in, n_out = size
        y = np.empty((batch, n_out), dtype=dtype)
        args = (array("x", (batch, n_in), dtype), _weights(n_in, n_out, dtype), array("b", (n_out,), dtype))
        return args, {"out": y}, [y]


class DenseBackwardInput(_Dense):
    """dx = dy wᵀ."""

    kernel = "dense_backward_input"

    def inputs(self, size, dtype):
        batch, n_in, n_out = size
        dx = np.empty((batch, n_in), dtype=dtype)
        return (array("dy", (batch, n_out), dtype), _weights(n_in, n_out, dtype)), {"out": dx}, [dx]


class DenseBackwardParams(_Dense):
    """dw = xᵀ dy, db = 1ᵀ dy."""

    kernel = "dense_backward_params"

    def inputs(self, size, dtype):
        batch, n_in, n_out = size
        dw, db = np.empty((n_in, n_out), dtype=dtype), np.empty(n_out, dtype=dtype)
        args = (array("x", (batch, n_in), dtype), array("dy", (batch, n_out), dtype))
        return args, {"out": (dw, db)}, [dw, db]


class DenseSgdUpdate(_Dense):
    """w -= lr xᵀ dy, b -= lr 1ᵀ dy, in place on copies made in setup.

    The timed calls repeat the same step, so w drifts by lr · xᵀ dy per call; with
    this lr it stays small and finite over any number of asv repeats.
    """

    kernel = "dense_sgd_update"
    lr = 1e-4

    def inputs(self, size, dtype):
        batch, n_in, n_out = size
        w, b = _weights(n_in, n_out, dtype).copy(), array("b", (n_out,), dtype).copy()
        args = (array("x", (batch, n_in), dtype), array("dy", (batch, n_out), dtype), w, b, self.lr)
        return args, {}, [w, b]


class Activation(_Kernel):
    """y = σ(x), elementwise."""

    params = [["identity", "relu", "sigmoid", "tanh"], ROW_SHAPES, DTYPES]
    param_names = ["activation", "shape", "dtype"]

    def kernel_name(self, activation, shape, dtype):
        return activation

    def inputs(self, activation, shape, dtype):
        y = np.empty(shape, dtype=dtype)
        return (array("x", shape, dtype),), {"out": y}, [y]


class ActivationBackward(Activation):
    """dx = σ'(x) dy, elementwise."""

    def kernel_name(self, activation, shape, dtype):
        return activation + "_backward"

    def inputs(self, activation, shape, dtype):
        dx = np.empty(shape, dtype=dtype)
        return (array("x", shape, dtype), array("dy", shape, dtype)), {"out": dx}, [dx]


class Softmax(_Kernel):
    """Row-wise softmax."""

    kernel = "softmax"
    params = [ROW_SHAPES, DTYPES]
    param_names = ["shape", "dtype"]

    def inputs(self, shape, dtype):
        p = np.empty(shape, dtype=dtype)
        return (array("z", shape, dtype, scale=3.0),), {"out": p}, [p]


class Loss(_Kernel):
    """Loss and its gradient at the output: mse and half_sse against float targets,
    softmax cross-entropy against class labels, sigmoid cross-entropy against 0/1
    rows, Poisson against counts ("mean" reduction where it applies)."""

    params = [["mse", "half_sse", "softmax_cross_entropy", "sigmoid_cross_entropy", "poisson"], ROW_SHAPES, DTYPES]
    param_names = ["loss", "shape", "dtype"]

    def kernel_name(self, loss, shape, dtype):
        return loss

    def inputs(self, loss, shape, dtype):
        n, k = shape
        dy = np.empty(shape, dtype=dtype)
        if loss == "softmax_cross_entropy":
            target = labels("t", n, k)
        elif loss in ("sigmoid_cross_entropy", "poisson"):  # 0/1 rows, counts: targets >= 0
            target = (array("t", shape, dtype) > 0).astype(dtype) * (1 if loss == "sigmoid_cross_entropy" else 3)
        else:
            target = array("t", shape, dtype)
        return (array("y", shape, dtype), target), {"out": dy}, [dy]

    def result(self, form):
        loss, dy = self.run(form)
        return [np.asarray(loss), dy]
