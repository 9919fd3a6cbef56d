"""The layer classes and the one helper that builds layers from widths (fastnn/layers.py)."""

import pytest

from fastnn import Dense, Identity, Network, ReLU, Tanh, dense_stack
from fastnn.layers import Activation


def test_dense_stack_puts_the_activation_between_dense_layers():
    layers = dense_stack([5, 7, 6, 3], Tanh)
    assert [type(l) for l in layers] == [Dense, Tanh, Dense, Tanh, Dense]
    assert [(l.n_in, l.n_out) for l in layers if isinstance(l, Dense)] == [(5, 7), (7, 6), (6, 3)]
    assert len({id(l) for l in layers}) == len(layers)  # a new layer each time
    assert [type(l) for l in dense_stack([5, 7, 3])] == [Dense, Dense]
    assert [type(l) for l in dense_stack((4, 2), ReLU)] == [Dense]
    net = Network(dense_stack([4, 8, 2], Identity), seed=0)
    assert (net.n_in, net.n_out) == (4, 2)


@pytest.mark.parametrize("widths, activation, exc, fragment", [
    ([3], None, ValueError, "at least 2 widths"),
    ([3, 0], None, ValueError, "Dense n_out must be a positive integer"),
    ([3, 2], "relu", TypeError, "activation layer class"),
    ([3, 2], Dense, TypeError, "activation layer class"),
    ([3, 2], Activation, TypeError, "activation layer class"),
])
def test_dense_stack_refuses_bad_arguments(widths, activation, exc, fragment):
    with pytest.raises(exc, match=fragment):
        dense_stack(widths, activation)
