"""Damaged network files (fastnn/_model_file.py): every cut and every flipped bit of
a saved model is refused with a ValueError that names the file, or loads exactly the
saved parameters; a save that fails keeps the earlier file."""

import numpy as np
import pytest

from conftest import assert_bitwise_equal, data, labels
from fastnn import Dense, Network, ReLU, Tanh

FORMS = ("loops", "matrix")


def _saved(tmp_path, form):
    net = Network([Dense(5, 7), Tanh(), Dense(7, 6), ReLU(), Dense(6, 3)], loss="softmax_cross_entropy",
                  form=form, seed=3)
    net.train_step(data((16, 5), np.float32, 1), labels(16, 3, 2), lr=0.1)
    path = tmp_path / "net.npz"
    net.save(path)
    return net, path


def _load_or_refuse(path, form, net):
    """'refused' (a ValueError naming the file) or 'loaded' (and exactly ``net``)."""
    try:
        back = Network.load(path, form=form)
    except ValueError as err:
        assert str(path) in str(err), err
        return "refused"
    assert [type(l) for l in back.layers] == [type(l) for l in net.layers]
    assert (back.loss_name, back.reduction, back.dtype) == (net.loss_name, net.reduction, net.dtype)
    assert_bitwise_equal(back.params, net.params)
    return "loaded"


def _outcomes(tmp_path, form, damage):
    """Load every damaged copy ``damage(good bytes, rng)`` yields; the outcomes, in order."""
    net, path = _saved(tmp_path, form)
    damaged = tmp_path / "damaged.npz"
    outcomes = []
    for data in damage(path.read_bytes(), np.random.default_rng(0)):
        damaged.write_bytes(data)
        outcomes.append(_load_or_refuse(damaged, form, net))
    return outcomes


def _cuts(good, rng):
    lengths = {0, 1, 4, 22, len(good) - 1, len(good) - 22, *rng.integers(0, len(good), 80).tolist()}
    return (good[:length] for length in sorted(lengths))


def _flips(good, rng):
    for position in rng.integers(0, len(good), 300).tolist():
        flipped = bytearray(good)
        flipped[position] ^= 1 << int(rng.integers(0, 8))
        yield bytes(flipped)


@pytest.mark.parametrize("form", FORMS)
def test_a_file_cut_short_is_refused(tmp_path, form):
    outcomes = _outcomes(tmp_path, form, _cuts)
    assert set(outcomes) == {"refused"} and len(outcomes) > 60


@pytest.mark.parametrize("form", FORMS)
def test_a_flipped_bit_is_refused_or_changes_nothing(tmp_path, form):
    outcomes = _outcomes(tmp_path, form, _flips)
    # most bytes are array data under a CRC-32; a few are zip fields that do not matter
    assert outcomes.count("refused") > outcomes.count("loaded"), outcomes


@pytest.mark.parametrize("form", FORMS)
def test_a_damaged_array_names_the_array(tmp_path, form):
    net, path = _saved(tmp_path, form)
    good = bytearray(path.read_bytes())
    # the last bytes of w0's data: its float values, under the CRC-32
    start = good.index(b"w0.npy")
    end = good.index(b"b0.npy", start)
    good[end - 40] ^= 0x10
    path.write_bytes(bytes(good))
    with pytest.raises(ValueError, match=r"array 'w0' cannot be read, the file is damaged \(BadZipFile"):
        Network.load(path, form=form)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_bytes(b""), "not a readable .npz file"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(40)), "not a readable .npz file"),
])
def test_empty_and_garbage_files_are_refused(tmp_path, make, fragment):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ValueError, match=fragment) as info:
        Network.load(path)
    assert str(path) in str(info.value)


def test_arrays_of_the_wrong_kind_are_refused(tmp_path):
    net, path = _saved(tmp_path, "loops")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value, fragment in [
        ("w1", np.full((7, 6), np.nan, np.float32), "array 'w1' holds NaN or infinity"),
        ("loss", np.array(3), "array 'loss' must be a string"),
        ("loss", np.array("hinge"), "loss must be one of"),
        ("version", np.array("1"), "array 'version' must be an integer"),
        ("layers", np.array([["dense"]]), "'layers' must be a 1-D array of layer names"),
        ("widths", np.zeros((5, 2)), "'widths' must be integers of shape (5, 2)"),
        ("widths", np.array([[5, 7], [7, 7], [0, 6], [6, 6], [6, 3]]), "Dense n_in must be a positive integer"),
    ]:
        bad = tmp_path / f"bad-{key}.npz"
        np.savez(bad, **dict(arrays, **{key: value}))
        with pytest.raises(ValueError) as info:
            Network.load(bad)
        assert str(bad) in str(info.value) and fragment in str(info.value), (key, str(info.value))


def test_an_object_array_is_refused_unpickled(tmp_path):
    net, path = _saved(tmp_path, "loops")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["b0"] = np.array([object()] * 7, dtype=object)
    bad = tmp_path / "object.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="array 'b0' cannot be read") as info:
        Network.load(bad)
    assert "allow_pickle" in str(info.value)


def test_a_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch):
    net, path = _saved(tmp_path, "loops")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.npz"]  # no temporary file left


def test_a_missing_file_or_a_folder_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")
    with pytest.raises(OSError):
        Network.load(tmp_path)
