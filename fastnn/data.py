"""Data sets and loaders.

The bundled digits data set, a seeded train/test split, and loaders that turn
users' own files (CSV, NumPy ``.npz``, MNIST-style IDX) into a feature matrix
``X`` of shape ``(n_samples, n_features)`` and a label vector ``y`` of shape
``(n_samples,)``.

Every loader reports problems with a file as a :class:`DataError` whose
message names the file and, where it applies, the line and column.

The bundled digits are from Alpaydin, E. & Kaynak, C. (1998), Optical
Recognition of Handwritten Digits, UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, licensed CC BY 4.0; see
``fastnn/_data/README.md``.
"""

import functools
import io
import math
import numbers
import os
import zipfile
import zlib
from importlib import resources

import numpy as np

from ._files import DataError, _features, _first, _float_dtype, _labels, _read_bytes
from ._idx import load_idx, read_idx

__all__ = [
    "DataError",
    "load",
    "load_csv",
    "load_digits",
    "load_idx",
    "load_npz",
    "read_idx",
    "train_test_split",
]

# ---------------------------------------------------------------------------
# bundled digits


@functools.lru_cache(maxsize=1)
def _digits_raw():
    # importlib.resources (not __file__) so this works from a zipped wheel.
    ref = resources.files(__package__) / "_data" / "digits.npz"
    with np.load(io.BytesIO(ref.read_bytes()), allow_pickle=False) as npz:
        X, y = npz["X"], npz["y"]
    # The cache is shared between calls; freeze it so no caller can alter it.
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def load_digits(dtype=np.float64):
    """Load the bundled 8x8 handwritten digits data set.

    1,797 images of the digits 0 to 9 (about 180 per class), each an 8x8
    grid flattened row by row into 64 features. A pixel is the count of
    "on" pixels in a 4x4 block of the original 32x32 bitmap, so values are
    the integers 0..16. They are returned as stored, not scaled; divide
    ``X`` by 16 to scale it to [0, 1].

    Parameters
    ----------
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Floating-point type of ``X``.

    Returns
    -------
    X : numpy.ndarray of shape (1797, 64)
        Pixel values 0..16 in ``dtype``.
    y : numpy.ndarray of shape (1797,), dtype int64
        Digit labels 0..9.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.

    Notes
    -----
    Each call returns new arrays, so they may be modified freely.

    Source: Alpaydin, E. & Kaynak, C. (1998), Optical Recognition of
    Handwritten Digits, UCI Machine Learning Repository,
    https://doi.org/10.24432/C50P49 (CC BY 4.0), as distributed with
    scikit-learn (the UCI test set).
    """
    dt = _float_dtype(dtype)
    X, y = _digits_raw()
    return X.astype(dt), y.astype(np.int64)


# ---------------------------------------------------------------------------
# train/test split


def _n_test(test_size, n):
    if isinstance(test_size, (bool, np.bool_)):
        raise ValueError(f"test_size must be a fraction or a count, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={n_test} as a count must be between 1 and "
                f"{n - 1} for {n} samples")
        return n_test
    if isinstance(test_size, numbers.Real):
        frac = float(test_size)
        if not 0.0 < frac < 1.0:
            raise ValueError(
                f"test_size={test_size!r} as a fraction must be strictly "
                "between 0 and 1")
        # Round first so that e.g. 0.3 * 10 = 3.0000000000000004 gives 3, not 4.
        n_test = math.ceil(round(frac * n, 9))
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={test_size!r} of {n} samples gives {n_test} test "
                "samples; both parts need at least one")
        return n_test
    raise ValueError(
        f"test_size must be a fraction in (0, 1) or an int count, got {test_size!r}")


def _stratified_test_index(y, n_test, rng):
    """Pick ``n_test`` indices with each class in proportion to its size."""
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    ideal = counts * (n_test / len(y))
    take = np.floor(ideal).astype(np.int64)
    # Largest-remainder rounding hits n_test exactly; ties are broken at
    # random (via the seeded rng) so no class is favoured by its label value.
    short = n_test - int(take.sum())
    if short:
        frac = ideal - take
        order = np.lexsort((rng.random(len(classes)), -frac))
        take[order[:short]] += 1
    parts = []
    for k in range(len(classes)):
        members = np.flatnonzero(y_idx == k)
        parts.append(rng.permutation(members)[: take[k]])
    return np.concatenate(parts)


def train_test_split(X, y, test_size=0.25, seed=0, stratify=True):
    """Split samples into a training and a test part, reproducibly.

    Parameters
    ----------
    X : array_like of shape (n_samples, ...)
        Features; the first axis indexes samples.
    y : array_like of shape (n_samples,)
        Labels or targets.
    test_size : float or int, default 0.25
        A float in (0, 1) is the fraction of samples put in the test part
        (rounded up); an int is the number of test samples. Both parts get at
        least one sample.
    seed : int, default 0
        Seed for ``numpy.random.default_rng``; the same seed gives the same
        split.
    stratify : bool, default True
        When true and ``y`` holds integer labels, each class is split in the
        same proportion (largest-remainder rounding), so class frequencies in
        both parts match those of ``y`` as closely as the counts allow. It is
        ignored for float ``y`` (regression targets).

    Returns
    -------
    X_train : numpy.ndarray of shape (n_samples - n_test, ...)
    X_test : numpy.ndarray of shape (n_test, ...)
    y_train : numpy.ndarray of shape (n_samples - n_test,)
    y_test : numpy.ndarray of shape (n_test,)
        New arrays (copies), each part in shuffled order.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, ``y`` is not 1-D, there are
        fewer than 2 samples, or ``test_size`` is out of range.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError("X must have at least one dimension (samples)")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(
            f"X and y have different lengths: {len(X)} and {len(y)} samples")
    n = len(y)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    n_test = _n_test(test_size, n)
    rng = np.random.default_rng(seed)
    if stratify and y.dtype.kind in "iu":
        test = _stratified_test_index(y, n_test, rng)
    else:
        test = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    train = rng.permutation(np.flatnonzero(~is_test))
    test = rng.permutation(test)
    return X[train], X[test], y[train], y[test]


# ---------------------------------------------------------------------------
# CSV


def _is_number(cell):
    # float() accepts "1_000" but numpy's parser does not; agree with numpy.
    if "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split_row(line, delimiter):
    cells = [c.strip() for c in line.split(delimiter)]
    return [c[1:-1].strip() if len(c) >= 2 and c[0] == c[-1] == '"' else c
            for c in cells]


def _diagnose_csv(path, data, delimiter):
    """Find the first bad cell in ``data`` and raise a DataError for it."""
    for lineno, line in data:
        for col, cell in enumerate(_split_row(line, delimiter), start=1):
            if not _is_number(cell):
                what = "empty cell" if cell == "" else f"non-numeric cell {cell!r}"
                raise DataError(f"{path}: line {lineno}, column {col}: {what}")


def load_csv(path, label_column=-1, header="auto", delimiter=",",
             dtype=np.float64):
    """Load features and labels from a delimited text file.

    Every row holds the same number of numeric cells; one column holds the
    label and the others are features. Blank lines are skipped. A file
    starting with the gzip magic bytes is decompressed first. Cells may be
    wrapped in double quotes, but a quoted cell may not contain the
    delimiter.

    Parameters
    ----------
    path : str or os.PathLike
        File to read (UTF-8 text, optionally gzip-compressed).
    label_column : int, default -1
        Index of the label column; negative values count from the end.
    header : {"auto", True, False}, default "auto"
        Whether the first non-blank line is a header of column names.
        ``"auto"`` treats it as a header if any of its cells is not a
        number.
    delimiter : str, default ","
        Single-character cell separator, e.g. ``"\\t"`` for tab-separated
        files.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Floating-point type of ``X``.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_columns - 1)
        Features in ``dtype``.
    y : numpy.ndarray of shape (n_samples,)
        int64 class labels if every label is a whole number (``3`` and
        ``3.0`` both count), otherwise float64 regression targets.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataError
        If the file is empty or not UTF-8 text, has no data rows, fewer than
        two columns, rows of different lengths, non-numeric or empty cells,
        non-finite values, or ``label_column`` is out of range. The message
        names the file and the line and column.
    TypeError
        If ``dtype`` is not float32 or float64, or ``label_column`` is not
        an int.
    ValueError
        If ``header`` or ``delimiter`` is invalid.
    """
    dt = _float_dtype(dtype)
    if not (isinstance(header, (bool, np.bool_))
            or isinstance(header, str) and header == "auto"):
        raise ValueError(f'header must be "auto", True or False, got {header!r}')
    if not isinstance(delimiter, str) or len(delimiter) != 1 \
            or delimiter in '"\r\n':
        raise ValueError(
            f"delimiter must be a single character other than a quote or "
            f"line break, got {delimiter!r}")
    if isinstance(label_column, (bool, np.bool_)) \
            or not isinstance(label_column, numbers.Integral):
        raise TypeError(f"label_column must be an int, got {label_column!r}")
    path = os.fspath(path)

    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not a UTF-8 text file (undecodable byte at offset "
            f"{exc.start})") from exc
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1)
             if ln.strip()]
    if not lines:
        raise DataError(f"{path}: file is empty")

    first_no, first = lines[0]
    first_cells = _split_row(first, delimiter)
    ncols = len(first_cells)
    if header == "auto":
        has_header = not all(_is_number(c) for c in first_cells)
    else:
        has_header = bool(header)
    data = lines[1:] if has_header else lines
    if ncols < 2:
        raise DataError(
            f"{path}: line {first_no} has 1 column; need at least 2 "
            "(features and a label)")
    if not -ncols <= label_column < ncols:
        raise DataError(
            f"{path}: label_column={label_column} is out of range for "
            f"{ncols} columns (line {first_no})")
    label_column = int(label_column) % ncols
    if not data:
        raise DataError(f"{path}: no data rows (only a header on line {first_no})")

    # Counting delimiters is C-speed; splitting every row in Python is not.
    for lineno, line in data:
        if line.count(delimiter) != ncols - 1:
            raise DataError(
                f"{path}: line {lineno} has {line.count(delimiter) + 1} "
                f"columns, expected {ncols} (as on line {first_no})")
    if '"' in text:
        # numpy's quote handling rejects spaces around a quoted cell, so
        # unquote in Python; only files that use quotes pay for it.
        rows = [delimiter.join(_split_row(line, delimiter)) for _, line in data]
    else:
        rows = [line for _, line in data]
    try:
        # numpy's C parser is far faster than float() per cell on big files.
        # Column counts are already checked, so it only fails on bad values,
        # which _diagnose_csv then pinpoints by line and column.
        table = np.loadtxt(rows, delimiter=delimiter, comments=None, ndmin=2,
                           dtype=np.float64)
    except ValueError as exc:
        _diagnose_csv(path, data, delimiter)
        raise DataError(f"{path}: {exc}") from exc

    bad = ~np.isfinite(table)
    if dt == np.float32:
        # Labels are never cast to float32, so only features must fit.
        big = np.abs(table) > np.finfo(np.float32).max
        big[:, label_column] = False
        bad |= big
    if bad.any():
        r, c = _first(bad)
        lineno, line = data[r]
        cell = _split_row(line, delimiter)[c]
        what = (f"non-finite value {cell!r}" if not np.isfinite(table[r, c])
                else f"value {cell!r} does not fit in float32")
        raise DataError(f"{path}: line {lineno}, column {c + 1}: {what}")
    y = table[:, label_column]
    # One copy: boolean column selection already yields a new array.
    X = table[:, np.arange(ncols) != label_column].astype(dt, copy=False)
    if np.all(y == np.round(y)) and np.all(np.abs(y) < 2.0**63):
        y = y.astype(np.int64)
    return X, y


# ---------------------------------------------------------------------------
# NumPy .npz


def load_npz(path, dtype=np.float64):
    """Load features and labels from a NumPy ``.npz`` archive.

    The archive must hold an array ``X`` of shape (n_samples, n_features)
    and an array ``y`` of shape (n_samples,), as written by
    ``numpy.savez(path, X=X, y=y)`` or ``numpy.savez_compressed``. Other
    arrays are ignored. Object arrays are refused (no pickle loading).

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Floating-point type of ``X``.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_features)
        Features in ``dtype``.
    y : numpy.ndarray of shape (n_samples,)
        int64 if ``y`` is stored as integers or booleans, float64 if stored
        as floats.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataError
        If the file is not a valid ``.npz`` archive, ``X`` or ``y`` is
        missing, ``X`` is not 2-D, ``y`` is not 1-D, their lengths differ,
        there are no samples, or values are non-numeric or non-finite.
    TypeError
        If ``dtype`` is not float32 or float64.
    """
    dt = _float_dtype(dtype)
    path = os.fspath(path)
    with open(path, "rb") as fh:
        head = fh.read(6)
        fh.seek(0)
        # Check the signature first: np.load's own error for a non-zip file
        # talks about pickles, which would mislead.
        if not head:
            raise DataError(f"{path}: file is empty, expected an .npz archive")
        if head == b"\x93NUMPY":
            raise DataError(
                f"{path}: is a single .npy array, not an .npz archive with "
                "arrays 'X' and 'y'")
        if not head.startswith(b"PK"):
            raise DataError(
                f"{path}: not an .npz file (no zip signature at the start)")
        try:
            with np.load(fh, allow_pickle=False) as npz:
                missing = [k for k in ("X", "y") if k not in npz.files]
                if missing:
                    raise DataError(
                        f"{path}: missing array{'s' if len(missing) > 1 else ''} "
                        f"{' and '.join(repr(k) for k in missing)}; arrays in "
                        f"the file: {sorted(npz.files)}")
                X_raw, y_raw = npz["X"], npz["y"]
        except DataError:
            raise
        except (ValueError, EOFError, OSError, zipfile.BadZipFile,
                zlib.error) as exc:
            raise DataError(f"{path}: cannot read the .npz archive ({exc})") from exc
    if X_raw.ndim != 2:
        raise DataError(
            f"{path}: X must be 2-D (n_samples, n_features), got shape "
            f"{X_raw.shape}")
    if y_raw.ndim != 1:
        raise DataError(f"{path}: y must be 1-D (n_samples,), got shape {y_raw.shape}")
    if len(X_raw) != len(y_raw):
        raise DataError(
            f"{path}: X has {len(X_raw)} samples but y has {len(y_raw)}")
    if len(y_raw) == 0:
        raise DataError(f"{path}: no samples")
    return _features(X_raw, dt, path), _labels(y_raw, path)


# ---------------------------------------------------------------------------
# dispatch

_ACCEPTED_SOURCES = (
    '"digits" (the bundled data set)',
    "PATH.csv or PATH.csv.gz (label in the last column)",
    "PATH.npz (arrays X and y)",
    "IMAGES_PATH,LABELS_PATH (two IDX files, optionally gzipped)",
)


def load(source, dtype=np.float64):
    """Load a data set named on the command line.

    Parameters
    ----------
    source : str or os.PathLike
        One of:

        - ``"digits"``: the bundled digits (:func:`load_digits`); use
          ``./digits`` for a file of that name;
        - a path ending in ``.csv`` or ``.csv.gz`` (:func:`load_csv` with
          its defaults: label in the last column, header auto-detected);
        - a path ending in ``.npz`` (:func:`load_npz`);
        - ``"IMAGES_PATH,LABELS_PATH"``: two IDX files separated by a comma
          (:func:`load_idx`). A ``.csv``/``.npz`` ending takes precedence,
          so a CSV or npz file name may contain a comma.

        Extensions are matched case-insensitively.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        Floating-point type of ``X``.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_features)
    y : numpy.ndarray of shape (n_samples,)
        As returned by the loader chosen.

    Raises
    ------
    DataError
        If ``source`` matches none of the forms above (the message lists
        them) or the loader rejects the file.
    FileNotFoundError
        If a named file does not exist.
    TypeError
        If ``dtype`` is not float32 or float64.
    """
    _float_dtype(dtype)
    text = os.fspath(source)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text == "digits":
        return load_digits(dtype)
    lower = text.lower()
    if lower.endswith((".csv", ".csv.gz")):
        return load_csv(text, dtype=dtype)
    if lower.endswith(".npz"):
        return load_npz(text, dtype=dtype)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 2 and all(parts):
        return load_idx(parts[0], parts[1], dtype)
    raise DataError(
        f"cannot tell how to load {text!r}; accepted forms: "
        + "; ".join(_ACCEPTED_SOURCES))
