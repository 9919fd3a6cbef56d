"""``fastnn compare`` and :mod:`fastnn.compare`: the report's shape and agreement,
never its timings (principle 7: benchmarks measure, tests assert)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastnn import cli, compare

ROOT = Path(__file__).resolve().parents[1]

ROW_KEYS = {"kernel", "dtype", "size", "loops_s", "matrix_s", "speedup", "max_abs_diff",
            "gflops_loops", "gflops_matrix"}
ENV_KEYS = {"fastnn", "numpy", "numba", "python", "numba_threads", "threading_layer", "blas",
            "blas_runtime", "openblas_coretype", "cpu", "cpu_count", "kernels_for", "env"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One ``python -m fastnn compare --quick --json`` run, shared by the tests below."""
    folder = tmp_path_factory.mktemp("compare")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "fastnn", "compare", "--quick", "--json", "out.json"],
                          capture_output=True, text=True, cwd=folder, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads((folder / "out.json").read_text())


def test_json_schema(quick):
    _, report = quick
    assert ENV_KEYS <= set(report["environment"])
    assert report["settings"]["check_finite"] is True
    rows = report["rows"]
    assert {r["kernel"] for r in rows} == set(compare.KERNELS)
    assert len(rows) == len(compare.KERNELS) * len(compare.QUICK["sizes"]) * len(compare.QUICK["dtypes"])
    for row in rows:
        assert ROW_KEYS <= set(row), row
        assert row["dtype"] == "float64" and len(row["size"]) == 3
        assert row["loops_s"] > 0 and row["matrix_s"] > 0
        assert row["speedup"] == pytest.approx(row["matrix_s"] / row["loops_s"])
        dense = row["kernel"] in compare.DENSE_KERNELS
        assert (row["gflops_loops"] is not None) == dense and (row["gflops_matrix"] is not None) == dense


def test_forms_agree(quick):
    _, report = quick
    # float64, sums of at most 32 O(1) terms: rounding differences are ~1e-14
    worst = max(report["rows"], key=lambda r: r["max_abs_diff"])
    assert worst["max_abs_diff"] < 1e-10, worst


def test_environment(quick):
    env = quick[1]["environment"]
    import numba

    assert env["numba"] == numba.__version__ and env["numpy"] == np.__version__
    assert env["numba_threads"] >= 1
    assert env["threading_layer"] in ("tbb", "omp", "workqueue")  # a parallel kernel did run
    assert env["blas"] and env["cpu"]


def test_table_printed(quick):
    out, report = quick
    for text in ("loop form vs matrix form", "numba threads:", "threading layer:", "BLAS (numpy):",
                 "OPENBLAS_CORETYPE:", "CPU:", "check_finite=True", "speed-up"):
        assert text in out
    lines = [l for l in out.splitlines() if l.split()[:1] and l.split()[0] in compare.KERNELS]
    assert len(lines) == len(report["rows"])
    assert "wrote out.json" in out


def test_run_float32_and_filters():
    rows = compare.run(sizes=[(3, 5, 4)], dtypes=["float32"], kernels=["dense_sgd_update", "train_step"],
                       repeat=1, target=0.001)["rows"]
    assert [r["kernel"] for r in rows] == ["dense_sgd_update", "train_step"]
    for row in rows:
        assert row["dtype"] == "float32" and row["size"] == [3, 5, 4]
        assert row["max_abs_diff"] < 1e-5


def test_measure_counts_calls():
    calls = []
    seconds, number = compare.measure(lambda: calls.append(1), repeat=3, target=0.001)
    assert seconds > 0 and number >= 1
    assert len(calls) == 2 + 3 * number  # warm-up, estimate, samples


@pytest.mark.parametrize("kwargs, message", [
    ({"kernels": ["gemm"]}, "unknown kernel(s) gemm"),
    ({"sizes": [(0, 1, 1)]}, "three positive integers"),
])
def test_run_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compare.run(**kwargs)


@pytest.mark.parametrize("args, message", [
    (["--kernels", "gemm"], "unknown kernel(s) gemm"),
    (["--size", "1,2"], "expected n,n_in,n_out"),
    (["--sizes", "huge"], "invalid choice: 'huge'"),
    (["--sizes", "small", "--size", "1,2,3"], "not allowed with argument"),
    (["--threads", "999"], "is more than the"),
])
def test_cli_usage_errors(args, message, capsys):
    assert cli.main(["compare", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_explicit_size_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "compare.png"
    code = cli.main(["compare", "--size", "2,3,4", "--dtype", "float32", "--kernels", "relu,dense_forward",
                     "--repeat", "1", "--target", "0.001", "--plot", str(plot)])
    assert code == 0
    out = capsys.readouterr().out
    assert "dense_forward          float32  2x3x4" in out and "relu " in out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_cli_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(compare, "run", lambda **kw: pytest.fail("measured before checking --plot"))
    assert cli.main(["compare", "--quick", "--plot", "c.png"]) == 2
    assert 'pip install "fastnn[plot]"' in capsys.readouterr().err
