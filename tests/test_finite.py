"""The finiteness tests that fastmath cannot fold away (fastnn/_finite.py)."""

import numba
import numpy as np
import pytest

from fastnn import _finite
from fastnn._config import SERIAL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 2, 7, 16, 33, 1000])
def test_all_finite_finds_every_non_finite_value_at_every_position(dtype, size):
    finite = np.linspace(-3, 3, size).astype(dtype)
    finite[0] = np.finfo(dtype).max  # the largest and the smallest finite numbers are finite
    finite[-1] = np.finfo(dtype).smallest_subnormal
    assert _finite.all_finite(finite)
    for bad in (np.nan, np.inf, -np.inf):
        for pos in range(size):
            a = finite.copy()
            a[pos] = bad
            assert not _finite.all_finite(a), (bad, pos)


@numba.njit(**{k: v for k, v in SERIAL.items() if k != "cache"})
def _finite_after(v):
    # an expression LLVM may rewrite under reassoc and nsz: v * 2 - v
    return _finite.is_finite(v * 2 - v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_is_finite_inside_a_fastmath_kernel(dtype):
    info = np.finfo(dtype)
    for value in (0.0, -1.5, info.tiny, info.max / 4):
        assert _finite_after(dtype(value))
    for value in (np.nan, np.inf, -np.inf):
        assert not _finite_after(dtype(value))
