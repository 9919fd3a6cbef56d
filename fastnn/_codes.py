"""The integer codes that both forms' kernels branch on, and the columns of a
network's ``spec`` table (see :mod:`fastnn.loops.passes`): defined once, imported by
``fastnn.loops``, ``fastnn.matrix`` and the Python layers, so the reference form
imports nothing from the fast one."""

IDENTITY, RELU, SIGMOID, TANH = 0, 1, 2, 3
"""Activation codes."""

MSE, HALF_SSE, CROSS_ENTROPY, SIGMOID_CROSS_ENTROPY, POISSON = 0, 1, 2, 3, 4
LOSS_CODES = {"mse": MSE, "half_sse": HALF_SSE, "softmax_cross_entropy": CROSS_ENTROPY,
              "sigmoid_cross_entropy": SIGMOID_CROSS_ENTROPY, "poisson": POISSON}
"""Loss codes, by loss name."""

SGD, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3
OPTIMIZER_CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adam": ADAM}
"""Optimizer codes, by name."""

KIND, N_IN, N_OUT, W_OFF, B_OFF = range(5)
"""Columns of ``spec``: a layer's kind (an activation code, or :data:`DENSE`), its
widths, and where its ``w`` and ``b`` start in the flat parameter buffer."""

DENSE = 10
"""Kind code of a dense layer in ``spec`` (activation kinds are 0..3)."""
