"""Tests for fastnn.data: bundled digits, split, and file loaders."""

import gzip
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.data import (
    DataError,
    load,
    load_csv,
    load_digits,
    load_idx,
    load_npz,
    read_idx,
    train_test_split,
)


# ---------------------------------------------------------------------------
# helpers

def write_text(path, text):
    path.write_text(text, encoding="utf-8")
    return path


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(arr, code=0x08):
    """Encode ``arr`` as IDX by hand, independently of fastnn."""
    arr = np.asarray(arr)
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim)
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(_IDX_DTYPES[code]).tobytes()


@pytest.fixture
def mnist_like(tmp_path):
    """Three 2x3 images and their labels as IDX files, images gzipped."""
    images = np.arange(18, dtype=np.uint8).reshape(3, 2, 3) * 10
    labels = np.array([5, 0, 4], dtype=np.uint8)
    img = tmp_path / "images-idx3-ubyte.gz"
    img.write_bytes(gzip.compress(idx_bytes(images)))
    lab = tmp_path / "labels-idx1-ubyte"
    lab.write_bytes(idx_bytes(labels))
    return img, lab, images, labels


# ---------------------------------------------------------------------------
# load_digits

def test_digits_shape_dtype_and_values():
    X, y = load_digits()
    assert X.shape == (1797, 64)
    assert X.dtype == np.float64
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert np.array_equal(X, np.round(X))
    assert set(np.unique(y)) == set(range(10))


def test_digits_known_first_and_last_samples():
    X, y = load_digits()
    # Values from the UCI optdigits test set (first and last rows).
    assert y[0] == 0
    assert X[0].sum() == 294
    assert list(X[0, :8]) == [0, 0, 5, 13, 9, 1, 0, 0]
    assert y[-1] == 8
    assert y[:10].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_digits_class_counts():
    _, y = load_digits()
    counts = np.bincount(y)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert counts.sum() == 1797


def test_digits_float32_and_bad_dtype():
    X32, y = load_digits(dtype=np.float32)
    X64, _ = load_digits()
    assert X32.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X32, X64)
    for bad in (np.int64, np.float16, "int32", object):
        with pytest.raises(TypeError, match="float32 or float64"):
            load_digits(dtype=bad)


def test_digits_returns_fresh_arrays():
    X1, y1 = load_digits()
    X1[:] = -1
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0 and y2.min() == 0
    assert X2.flags.writeable and y2.flags.writeable


# ---------------------------------------------------------------------------
# train_test_split

def test_split_sizes_and_partition():
    X, y = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y)
    assert len(X_te) == len(y_te) == 450  # ceil(0.25 * 1797)
    assert len(X_tr) == len(y_tr) == 1347
    # Every sample appears exactly once across the two parts, rows intact.
    rows = np.concatenate([np.column_stack([X_tr, y_tr]),
                           np.column_stack([X_te, y_te])])
    full = np.column_stack([X, y])
    assert np.array_equal(np.unique(rows, axis=0), np.unique(full, axis=0))
    assert len(rows) == len(full)


def test_split_is_deterministic_per_seed():
    X, y = load_digits()
    a = train_test_split(X, y, seed=3)
    b = train_test_split(X, y, seed=3)
    c = train_test_split(X, y, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])


def test_split_stratified_keeps_class_proportions():
    X, y = load_digits()
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=1)
    expected = np.bincount(y) * 0.2
    # Largest-remainder rounding: each class is off by less than one sample.
    assert np.all(np.abs(np.bincount(y_te, minlength=10) - expected) < 1)
    assert len(y_te) == 360


def test_split_stratified_small_imbalanced():
    y = np.array([0] * 8 + [1] * 4)
    X = np.arange(12.0)[:, None]
    for seed in range(5):
        _, X_te, _, y_te = train_test_split(X, y, test_size=0.25, seed=seed)
        assert sorted(y_te.tolist()) == [0, 0, 1]
        # Labels follow their rows.
        assert np.array_equal(y_te, (X_te[:, 0] >= 8).astype(int))


def test_split_int_count_and_float_targets():
    X = np.arange(20.0).reshape(10, 2)
    y = np.linspace(0, 1, 10)  # regression: no stratification
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=3)
    assert X_te.shape == (3, 2) and X_tr.shape == (7, 2)
    np.testing.assert_array_equal(X_te[:, 0] / 18, y_te)


def test_split_fraction_rounding():
    X = np.zeros((10, 1))
    y = np.arange(10) % 2
    # 0.3 * 10 is 3.0000000000000004 in floating point; still 3 test samples.
    assert len(train_test_split(X, y, test_size=0.3)[1]) == 3
    assert len(train_test_split(X, y, test_size=0.25)[1]) == 3  # ceil(2.5)


def test_split_not_stratified_when_disabled():
    y = np.array([0] * 50 + [1] * 50)
    X = np.zeros((100, 1))
    splits = {tuple(np.bincount(train_test_split(X, y, 0.5, seed=s,
                                                 stratify=False)[3]))
              for s in range(20)}
    assert len(splits) > 1  # plain random split varies class balance


@pytest.mark.parametrize("test_size, msg", [
    (0.0, "strictly between 0 and 1"),
    (1.0, "strictly between 0 and 1"),
    (-0.5, "strictly between 0 and 1"),
    (0, "between 1 and 9"),
    (10, "between 1 and 9"),
    (True, "fraction or a count"),
    ("0.2", "fraction in \\(0, 1\\) or an int"),
])
def test_split_bad_test_size(test_size, msg):
    with pytest.raises(ValueError, match=msg):
        train_test_split(np.zeros((10, 2)), np.zeros(10, int), test_size=test_size)


def test_split_length_mismatch_and_shapes():
    with pytest.raises(ValueError, match="different lengths: 5 and 4"):
        train_test_split(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="y must be 1-D"):
        train_test_split(np.zeros((5, 2)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        train_test_split(np.zeros((1, 2)), np.zeros(1))


# ---------------------------------------------------------------------------
# load_csv

def test_csv_basic_with_header(tmp_path):
    p = write_text(tmp_path / "d.csv", "a,b,label\n1,2,0\n3.5,-4,1\n\n5,6e1,2\n")
    X, y = load_csv(p)
    np.testing.assert_array_equal(X, [[1, 2], [3.5, -4], [5, 60]])
    np.testing.assert_array_equal(y, [0, 1, 2])
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_csv_header_auto_detects_absent_header(tmp_path):
    p = write_text(tmp_path / "d.csv", "1,2,0\n3,4,1\n")
    X, y = load_csv(p)
    assert X.shape == (2, 2)
    np.testing.assert_array_equal(y, [0, 1])


def test_csv_header_forced(tmp_path):
    p = write_text(tmp_path / "d.csv", "10,20,30\n1,2,0\n3,4,1\n")
    X, _ = load_csv(p, header=True)  # numeric column names
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    X, _ = load_csv(p, header=False)
    assert X.shape == (3, 2)
    q = write_text(tmp_path / "h.csv", "x,y\n1,2\n")
    with pytest.raises(DataError, match=r"h\.csv: line 1, column 1: non-numeric cell 'x'"):
        load_csv(q, header=False)
    with pytest.raises(ValueError, match="header must be"):
        load_csv(q, header="yes")


def test_csv_label_column_and_float_labels(tmp_path):
    p = write_text(tmp_path / "d.csv", "0.5,1,2\n1.5,3,4\n")
    X, y = load_csv(p, label_column=0)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0.5, 1.5])
    X, y = load_csv(p, label_column=1)
    np.testing.assert_array_equal(X, [[0.5, 2], [1.5, 4]])
    assert y.dtype == np.int64 and y.tolist() == [1, 3]


def test_csv_integral_float_text_labels_are_int(tmp_path):
    p = write_text(tmp_path / "d.csv", "1,2.0\n3,1.000e+00\n")
    _, y = load_csv(p)
    assert y.dtype == np.int64 and y.tolist() == [2, 1]


def test_csv_float32_tab_quotes_crlf_gzip(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_bytes(gzip.compress(b'"f1"\t"f2"\t"t"\r\n"1" \t 2\t3\r\n4\t5\t6\r\n'))
    X, y = load_csv(p, delimiter="\t", dtype=np.float32)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1, 2], [4, 5]])
    assert y.tolist() == [3, 6]


@pytest.mark.parametrize("name, text, msg", [
    ("rag.csv", "a,b,c\n1,2,3\n4,5\n",
     r"rag\.csv: line 3 has 2 columns, expected 3 \(as on line 1\)"),
    # Blank lines are skipped but still counted in line numbers.
    ("rag2.csv", "1,2\n\n3,4,5\n", r"rag2\.csv: line 3 has 3 columns, expected 2"),
    ("bad.csv", "a,b,c\n1,2,3\n4,five,6\n",
     r"bad\.csv: line 3, column 2: non-numeric cell 'five'"),
    ("gap.csv", "1,2,3\n4,,6\n", r"gap\.csv: line 2, column 2: empty cell"),
    ("nan.csv", "1,2,3\n4,nan,6\n",
     r"nan\.csv: line 2, column 2: non-finite value 'nan'"),
    ("inf.csv", "1,2,inf\n", r"inf\.csv: line 1, column 3: non-finite value 'inf'"),
])
def test_csv_malformed(tmp_path, name, text, msg):
    p = write_text(tmp_path / name, text)
    with pytest.raises(DataError, match=msg):
        load_csv(p)


def test_csv_float32_overflow(tmp_path):
    p = write_text(tmp_path / "big.csv", "1,2,3\n4,1e300,6\n")
    assert load_csv(p)[0][1, 1] == 1e300
    with pytest.raises(DataError, match=r"big\.csv: line 2, column 2: value '1e300' "
                                        "does not fit in float32"):
        load_csv(p, dtype=np.float32)
    # A huge label is fine: labels are never cast to float32.
    q = write_text(tmp_path / "lab.csv", "1,2,1e300\n")
    assert load_csv(q, dtype=np.float32)[1][0] == 1e300


def test_csv_empty_and_header_only(tmp_path):
    for text in ("", "\n  \n"):
        p = write_text(tmp_path / "empty.csv", text)
        with pytest.raises(DataError, match=r"empty\.csv: file is empty"):
            load_csv(p)
    q = write_text(tmp_path / "hdr.csv", "a,b\n")
    with pytest.raises(DataError, match=r"hdr\.csv: no data rows"):
        load_csv(q)


def test_csv_label_column_out_of_range(tmp_path):
    p = write_text(tmp_path / "d.csv", "1,2,3\n")
    for col in (3, -4):
        with pytest.raises(DataError,
                           match=rf"d\.csv: label_column={col} is out of range for 3 columns"):
            load_csv(p, label_column=col)
    one = write_text(tmp_path / "one.csv", "1\n2\n")
    with pytest.raises(DataError, match="need at least 2"):
        load_csv(one)


def test_csv_not_text_and_missing(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match=r"bin\.csv: not a UTF-8 text file"):
        load_csv(p)
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------------------
# load_npz

def test_npz_round_trip(tmp_path):
    p = tmp_path / "d.npz"
    X = np.arange(6, dtype=np.uint8).reshape(3, 2)
    np.savez_compressed(p, X=X, y=np.array([2, 0, 1], dtype=np.int32), extra=1)
    X2, y2 = load_npz(p)
    assert X2.dtype == np.float64 and y2.dtype == np.int64
    np.testing.assert_array_equal(X2, X)
    assert y2.tolist() == [2, 0, 1]
    X3, y3 = load_npz(p, dtype=np.float32)
    assert X3.dtype == np.float32


def test_npz_float_targets_kept(tmp_path):
    p = tmp_path / "r.npz"
    np.savez(p, X=np.ones((2, 1)), y=np.array([0.25, 1.0]))
    _, y = load_npz(p)
    assert y.dtype == np.float64 and y.tolist() == [0.25, 1.0]


def test_npz_missing_arrays(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, X=np.ones((2, 1)), labels=np.ones(2))
    with pytest.raises(DataError,
                       match=re.escape("missing array 'y'; arrays in the file: ['X', 'labels']")):
        load_npz(p)
    np.savez(p, a=np.ones(2))
    with pytest.raises(DataError, match="missing arrays 'X' and 'y'.*\\['a'\\]"):
        load_npz(p)


@pytest.mark.parametrize("X, y, msg", [
    (np.ones(3), np.ones(3), r"X must be 2-D .* got shape \(3,\)"),
    (np.ones((3, 2, 1)), np.ones(3), r"X must be 2-D"),
    (np.ones((3, 2)), np.ones((3, 1)), r"y must be 1-D .* got shape \(3, 1\)"),
    (np.ones((3, 2)), np.ones(4), "X has 3 samples but y has 4"),
    (np.ones((0, 2)), np.ones(0), "no samples"),
    (np.array([[1.0, np.nan]]), np.ones(1),
     r"feature value nan at sample 0, feature 1 is not finite \(1 bad value"),
    (np.array([["a", "b"]]), np.ones(1), "features have dtype <U1"),
    (np.ones((1, 2)), np.array([np.inf]), "label inf at sample 0 is not finite"),
])
def test_npz_bad_contents(tmp_path, X, y, msg):
    p = tmp_path / "bad.npz"
    np.savez(p, X=X, y=y)
    with pytest.raises(DataError, match=r"bad\.npz: " + msg):
        load_npz(p)


def test_npz_not_an_archive(tmp_path):
    p = write_text(tmp_path / "text.npz", "1,2,3\n")
    with pytest.raises(DataError, match=r"text\.npz: not an \.npz file"):
        load_npz(p)
    e = tmp_path / "empty.npz"
    e.write_bytes(b"")
    with pytest.raises(DataError, match="file is empty"):
        load_npz(e)
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.ones(3))
    with pytest.raises(DataError, match="single .npy array"):
        load_npz(npy)


def test_npz_corrupt(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.ones((50, 4)), y=np.ones(50))
    raw = good.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"cut\.npz: cannot read the \.npz archive"):
        load_npz(bad)


def test_npz_object_array_refused(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, X=np.array([[1, "a"]], dtype=object), y=np.ones(1))
    with pytest.raises(DataError, match=r"obj\.npz: cannot read.*allow_pickle"):
        load_npz(p)


def test_npz_float32_overflow(tmp_path):
    p = tmp_path / "big.npz"
    np.savez(p, X=np.array([[1.0, 1e300]]), y=np.ones(1))
    with pytest.raises(DataError, match="value 1e[+]300 at sample 0, feature 1 "
                                        "does not fit in float32"):
        load_npz(p, dtype=np.float32)


# ---------------------------------------------------------------------------
# IDX

def test_read_idx_plain_and_gzip_round_trip(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    plain = tmp_path / "plain.idx"
    plain.write_bytes(idx_bytes(arr))
    # gzip is detected by content: the name has no .gz on purpose.
    zipped = tmp_path / "zipped.idx"
    zipped.write_bytes(gzip.compress(idx_bytes(arr)))
    for p in (plain, zipped):
        out = read_idx(p)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("code, values, dtype", [
    (0x09, [-3, 0, 7], np.int8),
    (0x0B, [-300, 0, 7000], np.int16),
    (0x0C, [-70000, 1, 2**31 - 1], np.int32),
    (0x0D, [0.5, -1.25, 3.0], np.float32),
    (0x0E, [0.1, -1e300, 2.0], np.float64),
])
def test_read_idx_types_big_endian(tmp_path, code, values, dtype):
    p = tmp_path / "t.idx"
    p.write_bytes(idx_bytes(np.array(values), code))
    out = read_idx(p)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, np.array(values, dtype=dtype))


def test_read_idx_wrong_magic(tmp_path):
    p = tmp_path / "bad.idx"
    p.write_bytes(b"\x00\x00\x00\x00" + b"\x00" * 8)
    with pytest.raises(DataError, match=r"bad\.idx: wrong magic number 0x00000000, "
                                        "expected an IDX file"):
        read_idx(p)
    p.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="wrong magic number 0x12340801"):
        read_idx(p)
    p.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="unknown type code 0x07"):
        read_idx(p)


def test_read_idx_truncated_and_trailing(tmp_path):
    data = idx_bytes(np.zeros((4, 2, 2), dtype=np.uint8))
    p = tmp_path / "cut.idx"
    p.write_bytes(data[:-3])
    with pytest.raises(DataError, match=r"cut\.idx: truncated IDX file: dimensions "
                                        r"\(4, 2, 2\) of uint8 need 16 data bytes, found 13"):
        read_idx(p)
    p.write_bytes(data[:10])
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(p)
    p.write_bytes(data[:2])
    with pytest.raises(DataError, match="too short for an IDX header"):
        read_idx(p)
    p.write_bytes(data + b"\x00\x00")
    with pytest.raises(DataError, match="trailing data.*2 extra"):
        read_idx(p)
    p.write_bytes(gzip.compress(data)[:-6])
    with pytest.raises(DataError, match="corrupt gzip data"):
        read_idx(p)


def test_load_idx(mnist_like):
    img, lab, images, labels = mnist_like
    X, y = load_idx(img, lab)
    assert X.shape == (3, 6) and X.dtype == np.float64
    np.testing.assert_array_equal(X, images.reshape(3, 6))
    assert X[2, 5] == 170
    assert y.dtype == np.int64 and y.tolist() == [5, 0, 4]
    X32, _ = load_idx(img, lab, dtype=np.float32)
    assert X32.dtype == np.float32


def test_load_idx_count_mismatch(tmp_path, mnist_like):
    img, _, _, _ = mnist_like
    lab = tmp_path / "short-labels"
    lab.write_bytes(idx_bytes(np.array([1, 2], dtype=np.uint8)))
    with pytest.raises(DataError, match=r"short-labels has 2 labels, .*images-idx3-ubyte\.gz "
                                        r"has 3 images"):
        load_idx(img, lab)


def test_load_idx_wrong_ndim(tmp_path, mnist_like):
    img, lab, _, _ = mnist_like
    with pytest.raises(DataError, match="labels must be 1-D"):
        load_idx(img, img)
    with pytest.raises(DataError, match="images must have at least 2 dimensions"):
        load_idx(lab, lab)


# ---------------------------------------------------------------------------
# load (dispatch)

def test_load_digits_by_name():
    X, y = load("digits", dtype=np.float32)
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y[0] == 0


def test_load_dispatch_by_extension(tmp_path, mnist_like):
    csv = write_text(tmp_path / "D.CSV", "1,2,1\n3,4,0\n")
    X, y = load(str(csv))
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [1, 0]
    gz = tmp_path / "d.csv.gz"
    gz.write_bytes(gzip.compress(b"1,2,1\n"))
    assert load(gz)[1].tolist() == [1]
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.ones((2, 3)), y=np.array([1, 0]))
    assert load(npz)[0].shape == (2, 3)
    img, lab, _, _ = mnist_like
    X, y = load(f"{img},{lab}")
    assert X.shape == (3, 6) and y.tolist() == [5, 0, 4]


def test_load_unknown_and_missing(tmp_path):
    with pytest.raises(DataError, match=r"cannot tell how to load 'data\.txt'.*"
                                        r"\"digits\".*\.csv.*\.npz.*IMAGES_PATH,LABELS_PATH"):
        load("data.txt")
    with pytest.raises(DataError, match="accepted forms"):
        load("a,b,c")
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load(missing)
    with pytest.raises(FileNotFoundError, match="imgs"):
        load(f"{tmp_path / 'imgs'},{tmp_path / 'labs'}")
    with pytest.raises(TypeError, match="float32 or float64"):
        load("digits", dtype=int)


def test_data_is_imported_on_first_use():
    # `import fastnn` leaves the loaders (and zipfile, gzip) out until fastnn.data is used
    code = ("import sys, fastnn\n"
            "assert 'fastnn.data' not in sys.modules, 'imported eagerly'\n"
            "assert 'data' in dir(fastnn)\n"
            "X, y = fastnn.data.load_digits()\n"
            "from fastnn import data\n"
            "assert data is sys.modules['fastnn.data'] and X.shape == (1797, 64)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastnn.nope
