"""Allocation of aligned work buffers."""

import numpy as np

from ._config import ALIGNMENT


def empty(shape, dtype):
    """Return an uninitialized C-contiguous array whose data starts on a 64-byte boundary.

    NumPy only promises 16-byte alignment; vector loads that straddle cache lines
    made the loop kernels measurably slower, so every buffer fastnn allocates for a
    kernel comes from here.

    Parameters
    ----------
    shape : int or tuple of int
    dtype : numpy dtype

    Returns
    -------
    numpy.ndarray
        Writeable, C-contiguous, ``ctypes.data % 64 == 0``.
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = max(count * dtype.itemsize, 1)
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def zeros(shape, dtype):
    """Like :func:`empty`, filled with zeros."""
    out = empty(shape, dtype)
    out.fill(0)
    return out
