"""``fastnn train`` end to end.

Successful runs go through a subprocess (``python -m fastnn``), as a user runs them;
each pays Numba's import and cache load (~1-2 s), so they train one epoch and are
few.  Error cases call :func:`fastnn.cli.main` in-process (it returns the exit code
instead of raising, so "no traceback" means "main returned"), and two of them also
run in a subprocess to check stderr as the user sees it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import cli, data

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd, python_args=("-m", "fastnn")):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, *python_args, *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


def train_ok(tmp_path, *args):
    proc = run_cli("train", "--epochs", "1", "--no-progress", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def accuracy(stdout):
    match = re.search(r"test accuracy: ([\d.]+)% \((\d+)/(\d+)\)", stdout)
    assert match, stdout
    return float(match[1]), int(match[2]), int(match[3])


# -- fixtures: small synthetic data files ------------------------------------------------


def _blobs(n=240, k=3, d=4, seed=0):
    """k well separated classes, features on very different scales."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + 4.0 * y[:, None]
    return X * np.logspace(-1, 2, d) + 5.0, y


@pytest.fixture
def classes_csv(tmp_path):
    X, y = _blobs()
    path = tmp_path / "classes.csv"
    header = ",".join(f"f{i}" for i in range(X.shape[1])) + ",label"
    np.savetxt(path, np.c_[X, y], delimiter=",", header=header, comments="", fmt="%.6g")
    return path


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3)) * [1.0, 50.0, 0.01]
    y = X @ [2.0, 0.04, 100.0] + 30.0 + 0.05 * rng.normal(size=200)
    path = tmp_path / "regression.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.8g")
    return path


# -- successful runs (subprocess) -------------------------------------------------------------


def test_default_digits_run(tmp_path):
    out = train_ok(tmp_path)
    assert "data digits: 1797 x 64 (1347 train, 450 test), 10 classes" in out
    assert "network 64-128-10 relu | form loops | float32" in out
    percent, correct, total = accuracy(out)
    assert total == 450 and percent > 50  # one epoch; the 20-epoch default reaches >= 95%
    assert re.search(r"median epoch: [\d.]+ [mu]?s", out)
    assert re.search(r"final loss: [\d.]+", out)


def test_matrix_form_on_one_thread(tmp_path):
    out = train_ok(tmp_path, "--form", "matrix", "--threads", "1", "--dtype", "float64")
    assert "form matrix | float64 | 1 thread" in out
    accuracy(out)


def test_hidden_tanh_adam_save(tmp_path):
    out = train_ok(tmp_path, "--hidden", "32,16", "--activation", "tanh", "--optimizer", "adam",
                   "--save", "model.npz")
    assert "network 64-32-16-10 tanh" in out and "adam lr 0.001" in out
    assert "saved model.npz" in out
    _, correct, total = accuracy(out)
    net = fastnn.Network.load(tmp_path / "model.npz")
    assert [type(l).__name__ for l in net.layers] == ["Dense", "Tanh", "Dense", "Tanh", "Dense"]
    # the saved model takes raw digits (the /16 is folded in) and scores what was reported
    X, y = data.load_digits()
    _, x_test, _, y_test = data.train_test_split(X, y, 0.25, seed=0)
    assert len(y_test) == total
    assert abs(int(np.sum(net.predict_classes(x_test) == y_test)) - correct) <= 1


def test_csv_classification(tmp_path, classes_csv):
    out = train_ok(tmp_path, "--data", classes_csv, "--epochs", "5", "--hidden", "8", "--save", "m.npz")
    assert "240 x 4 (180 train, 60 test), 3 classes" in out
    assert "standardized" in out
    percent, _, _ = accuracy(out)
    assert percent > 90
    X, y = data.load_csv(classes_csv)
    net = fastnn.Network.load(tmp_path / "m.npz")
    assert np.mean(net.predict_classes(X) == y) > 0.9  # raw features: scaling folded in


def test_npz_data(tmp_path):
    X, y = _blobs(k=2, seed=3)
    np.savez(tmp_path / "d.npz", X=X, y=y + 5)  # labels 5, 6: mapped to classes 0, 1
    out = train_ok(tmp_path, "--data", "d.npz", "--hidden", "", "--save", "m.npz")
    assert "240 x 4" in out and "2 classes" in out and "network 4-2 |" in out
    assert "output k is label [5, 6][k]" in out
    accuracy(out)


def test_regression_csv(tmp_path, regression_csv):
    out = train_ok(tmp_path, "--data", regression_csv, "--epochs", "20", "--save", "m.npz")
    assert "regression (mse, 1 output)" in out and "network 3-128-1" in out
    assert "accuracy" not in out
    match = re.search(r"test R\^2: ([-\d.]+), test MSE: ([\d.e+-]+)", out)
    assert match, out
    assert float(match[1]) > 0.9
    X, y = data.load_csv(regression_csv)
    net = fastnn.Network.load(tmp_path / "m.npz")
    pred = net.predict(X)[:, 0]  # raw features in, raw targets out
    assert 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2) > 0.9


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = train_ok(tmp_path, "--epochs", "2", "--plot", "loss.png")
    assert "plot loss.png" in out
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- errors (in-process) ------------------------------------------------------------------------


@pytest.fixture
def bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    return path


@pytest.mark.parametrize("args, code, message", [
    (["--bogus"], 2, "unrecognized arguments: --bogus"),
    (["--epochs", "-1"], 2, "argument --epochs: must be >= 1, got -1"),
    (["--epochs", "two"], 2, "argument --epochs: expected an integer"),
    (["--hidden", "a,b"], 2, "argument --hidden: expected comma-separated layer widths"),
    (["--form", "x"], 2, "argument --form: invalid choice: 'x'"),
    (["--lr", "0"], 2, "argument --lr: must be in (0, inf)"),
    (["--test-size", "1.5"], 2, "argument --test-size: must be in (0, 1)"),
    (["--threads", "999"], 2, "argument --threads: 999 is more than the"),
    (["--optimizer", "adam", "--momentum", "0.9"], 2, "--momentum: applies to --optimizer sgd only"),
    (["--data", "no/such/file.csv"], 1, "no/such/file.csv: No such file or directory"),
    (["--data", "file.txt"], 1, "cannot tell how to load 'file.txt'"),
    (["--save", "no/such/folder/m.npz"], 1, "--save no/such/folder/m.npz: folder"),
])
def test_usage_and_data_errors(args, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--no-progress", *args]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "error:" in err.splitlines()[-1]


def test_malformed_csv(bad_csv, capsys):
    assert cli.main(["train", "--no-progress", "--data", str(bad_csv)]) == 1
    assert capsys.readouterr().err.strip() == f"fastnn: error: {bad_csv}: line 3, column 2: non-numeric cell 'oops'"


def test_divergence_is_reported(capsys):
    assert cli.main(["train", "--no-progress", "--epochs", "1", "--lr", "1e9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastnn: error: epoch 1: training diverged") and "smaller learning rate" in err
    assert "RuntimeWarning" not in err


def test_plot_without_matplotlib_fails_before_training(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(cli, "_Prepared", lambda args: pytest.fail("loaded data before checking --plot"))
    assert cli.main(["train", "--plot", "loss.png"]) == 2
    assert 'pip install "fastnn[plot]"' in capsys.readouterr().err


def test_help_and_no_command(capsys):
    assert cli.main(["train", "--help"]) == 0
    assert "--hidden" in capsys.readouterr().out
    assert cli.main([]) == 2
    assert "required" in capsys.readouterr().err


# -- errors as the user sees them (subprocess) -------------------------------------------------------


def test_missing_file_subprocess(tmp_path):
    proc = run_cli("train", "--data", "missing.npz", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == "fastnn: error: missing.npz: No such file or directory\n"


def test_plot_without_matplotlib_subprocess(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from fastnn.cli import main; "
            "sys.exit(main(['train', '--plot', 'loss.png']))")
    proc = run_cli(cwd=tmp_path, python_args=("-c", code))
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('fastnn: error: --plot needs matplotlib, which is not installed; '
                                   'install it with: pip install "fastnn[plot]"')
    assert proc.stdout == ""  # nothing was trained
