"""What every loader of :mod:`fastnn.data` shares: its error, the dtype rule, reading
a file (gunzipped when it is gzip), and turning read values into features and labels
with errors that name the file."""

import gzip
import zlib

import numpy as np

from . import _checks

_GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """A malformed data file, unusable values, or an unrecognised source.

    The message names the file and, where it applies, the line and column.
    Missing files raise FileNotFoundError instead.
    """


# ---------------------------------------------------------------------------
# helpers


_float_dtype = _checks.float_dtype


def _read_bytes(path):
    """Read a whole file, transparently gunzipping it.

    gzip is detected by its magic bytes rather than the extension so that
    misnamed files still load.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from exc
    return raw


def _first(mask):
    """Index tuple of the first true element of ``mask`` (row-major)."""
    return tuple(int(v) for v in np.argwhere(mask)[0])


def _labels(values, path):
    """Convert a numeric label array to int64 or float64 (1-D)."""
    if values.dtype.kind in "biu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        y = values.astype(np.float64)
        bad = ~np.isfinite(y)
        if bad.any():
            (i,) = _first(bad)
            raise DataError(
                f"{path}: label {y[i]} at sample {i} is not finite")
        return y
    raise DataError(f"{path}: labels have dtype {values.dtype}, expected numbers")


def _features(values, dtype, path):
    """Cast a numeric feature matrix to ``dtype``, rejecting bad values."""
    if values.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: features have dtype {values.dtype}, expected numbers")
    with np.errstate(over="ignore"):
        X = values.astype(dtype)
    if values.dtype.kind == "f":
        # Checked after the cast so float64 values too big for float32 are
        # caught too; the original value tells the two cases apart.
        bad = ~np.isfinite(X)
        if bad.any():
            r, c = _first(bad)
            v = values[r, c]
            why = "is not finite" if not np.isfinite(v) else f"does not fit in {X.dtype}"
            raise DataError(
                f"{path}: feature value {v} at sample {r}, feature {c} {why} "
                f"({int(bad.sum())} bad value(s) in all)")
    return X
