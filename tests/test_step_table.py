"""``benchmarks/step_table.py``: the rows it writes with ``--json`` and renders again
with ``--render``, never its timings (each measurement is replaced by a fixed one)."""

import json

from benchmarks import step_table


def test_json_rows_render_the_same_table(tmp_path, monkeypatch, capsys):
    # a skipped peer (not installed) has no "seconds"
    seconds = {"loops": 2e-6, "loops-fit": 1e-6, "matrix": 8e-6, "numpy": 4e-6,
               "numpy-haswell": 5e-6, "jax": 3e-6, "jax-scan": 1.5e-6}
    monkeypatch.setattr(step_table, "_measure", lambda impl, name, repeat, target:
                        {"seconds": seconds[impl]} if impl in seconds else {"skip": "not installed"})
    out = tmp_path / "steps.json"
    step_table.main(["--shapes", "3-1-2/b1,64-128-10/b32", "--json", str(out)])
    table = capsys.readouterr().out

    rows = json.loads(out.read_text())
    assert [row["shape"] for row in rows] == ["3-1-2/b1", "64-128-10/b32"]
    assert rows[0]["loops"] == 2e-6 and rows[0]["torch"] is None
    assert "torch" not in table.splitlines()[0]
    # fastest peer: JAX's scanned epoch, 1.5 µs a step against fit's 1 µs
    assert table.splitlines()[2].endswith("| 1.50x |")

    step_table.main(["--render", str(out)])
    assert capsys.readouterr().out == table
