"""The IDX file format (MNIST's): one file read into an array, and a pair of image and
label files read as ``(X, y)``.  Re-exported by :mod:`fastnn.data`."""

import math
import os

import numpy as np

from ._files import DataError, _features, _float_dtype, _labels, _read_bytes

# IDX type code -> big-endian element dtype.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read one IDX file (the MNIST format), gzip-compressed or not.

    The format is a 4-byte magic number (two zero bytes, a type code, the
    number of dimensions), one big-endian uint32 size per dimension, then
    the values in C order. Compression is detected from the gzip magic
    bytes, not the file name.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.

    Returns
    -------
    numpy.ndarray
        Array of the declared shape, in native byte order, with dtype
        uint8 (type 0x08), int8 (0x09), int16 (0x0B), int32 (0x0C),
        float32 (0x0D) or float64 (0x0E).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataError
        If the magic number is wrong, the type code unknown, or the data is
        shorter or longer than the declared dimensions require.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(
            f"{path}: file too short for an IDX header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}, expected an IDX file "
            "(0x0000TTDD: type code TT, DD dimensions)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}, expected an IDX file "
            f"(unknown type code 0x{code:02X}; expected one of "
            f"{', '.join(f'0x{c:02X}' for c in _IDX_TYPES)})")
    if ndim == 0:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08X}, expected an IDX file "
            "(0 dimensions)")
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise DataError(
            f"{path}: truncated IDX header: {ndim} dimensions need {start} "
            f"bytes, file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
                  for i in range(ndim))
    dt = _IDX_TYPES[code]
    need = math.prod(shape) * dt.itemsize
    have = len(raw) - start
    if have < need:
        raise DataError(
            f"{path}: truncated IDX file: dimensions {shape} of {dt.name} need "
            f"{need} data bytes, found {have}")
    if have > need:
        raise DataError(
            f"{path}: trailing data in IDX file: dimensions {shape} of "
            f"{dt.name} need {need} data bytes, found {have} "
            f"({have - need} extra)")
    arr = np.frombuffer(raw, dtype=dt, count=math.prod(shape), offset=start)
    # astype copies, giving a writable array in native byte order.
    return arr.reshape(shape).astype(dt.newbyteorder("="))


def load_idx(images_path, labels_path, dtype=np.float64):
    """Load an image file and a label file in IDX (MNIST) format.

    Parameters
    ----------
    images_path : str or os.PathLike
        IDX file of shape (n_samples, rows, cols), or any shape with at
        least 2 dimensions whose first is the sample axis; e.g.
        ``train-images-idx3-ubyte.gz``.
    labels_path : str or os.PathLike
        IDX file of shape (n_samples,); e.g. ``train-labels-idx1-ubyte.gz``.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Floating-point type of ``X``.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, rows * cols)
        Images flattened row by row, values as stored (0..255 for MNIST;
        divide by 255 to scale to [0, 1]).
    y : numpy.ndarray of shape (n_samples,)
        int64 for integer IDX types, float64 for float types.

    Raises
    ------
    FileNotFoundError
        If either file does not exist.
    DataError
        If either file is not valid IDX (see :func:`read_idx`), the images
        have fewer than 2 dimensions, the labels are not 1-D, the counts
        differ, there are no samples, or a value is non-finite.
    TypeError
        If ``dtype`` is not float32 or float64.
    """
    dt = _float_dtype(dtype)
    images_path = os.fspath(images_path)
    labels_path = os.fspath(labels_path)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim < 2:
        raise DataError(
            f"{images_path}: images must have at least 2 dimensions "
            f"(n_samples, ...), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path}: labels must be 1-D (n_samples,), got shape "
            f"{labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"label count does not match image count: {labels_path} has "
            f"{len(labels)} labels, {images_path} has {len(images)} images")
    if len(images) == 0:
        raise DataError(f"{images_path}: no samples")
    X = images.reshape(len(images), math.prod(images.shape[1:]))
    return _features(X, dt, images_path), _labels(labels, labels_path)
