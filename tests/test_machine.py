"""fastnn._machine: the rules derived from the CPU, and the vector width kernels compile for."""

import numba
import numpy as np
import pytest

from fastnn import _machine
from fastnn._config import SERIAL
from fastnn._jit import jit

AVX512 = _machine.vector_bits() == 512


def test_register_tile_fills_three_quarters_of_the_registers():
    # AVX-512 (32 registers): float32 has 16 lanes, float64 8
    assert _machine._register_tile(16, 32) == (6, 4)
    assert _machine._register_tile(8, 32) == (4, 6)
    for lanes, registers in [(16, 32), (8, 32), (8, 16), (4, 16), (4, 32)]:
        mr, v = _machine._register_tile(lanes, registers)
        assert mr >= 1 and v * lanes >= 48
        assert mr * v + v + 1 <= registers or mr == 1


def _tiles_on(monkeypatch, bits, registers, l1, l2, itemsize):
    monkeypatch.setattr(_machine, "vector_bits", lambda: bits)
    monkeypatch.setattr(_machine, "vector_registers", lambda: registers)
    monkeypatch.setattr(_machine, "cache_sizes", lambda: (l1, l2))
    return _machine.tiles.__wrapped__(itemsize)


def test_tiles_follow_the_caches(monkeypatch):
    # AMD Zen 4: 32 KiB L1d, 1 MiB L2; the float64 tiles hand-tuned there, and float32's
    # NC; float32's KC was 384 by hand (336 here; 384 and 512 measured the same there)
    assert _tiles_on(monkeypatch, 512, 32, 32 * 1024, 1024 * 1024, 8) == (4, 48, 256, 192)
    assert _tiles_on(monkeypatch, 512, 32, 32 * 1024, 1024 * 1024, 4) == (6, 64, 336, 256)
    # Intel Sapphire Rapids: 48 KiB L1d, 2 MiB L2
    mr, nr, kc, nc = _tiles_on(monkeypatch, 512, 32, 48 * 1024, 2 * 1024 * 1024, 4)
    assert (mr, nr, kc, nc) == (6, 64, 512, 384)
    assert mr * kc * 4 <= 48 * 1024 // 4 and kc * nc * 4 <= 3 * 2 * 1024 * 1024 // 8
    assert nc % nr == 0 and kc % 16 == 0


def test_cache_sizes_read_from_sysfs(tmp_path, monkeypatch):
    for name, (level, kind, size) in {"index0": (1, "Data", "48K"), "index1": (1, "Instruction", "32K"),
                                      "index2": (2, "Unified", "2048K"), "index3": (3, "Unified", "300M")}.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    monkeypatch.setattr(_machine, "_CACHE_FOLDER", str(tmp_path))
    assert _machine.cache_sizes.__wrapped__() == (48 * 1024, 2048 * 1024)
    monkeypatch.setattr(_machine, "_CACHE_FOLDER", str(tmp_path / "missing"))
    l1, l2 = _machine.cache_sizes.__wrapped__()
    assert l1 > 0 and l2 > 0


def _axpy(a, x, y):
    for j in range(y.shape[0]):
        y[j] += a * x[j]


@pytest.mark.skipif(not AVX512, reason="the CPU has no AVX-512")
def test_kernels_use_the_full_vector_width():
    # LLVM's tuning of Intel's AVX-512 server cores prefers 256-bit vectors; fastnn's
    # kernels carry the attribute that overrides it, other Numba code does not
    kernel = jit(**dict(SERIAL, cache=False))(_axpy)
    x, y = np.ones(1024, np.float32), np.zeros(1024, np.float32)
    kernel(np.float32(2), x, y)
    sig = kernel.signatures[0]
    assert '"prefer-vector-width"="512"' in kernel.inspect_llvm(sig)
    assert "zmm" in kernel.inspect_asm(sig)
    plain = numba.njit(fastmath=True)(_axpy)
    plain(np.float32(2), x, y)
    assert "prefer-vector-width" not in plain.inspect_llvm(plain.signatures[0])
    np.testing.assert_array_equal(y, 4)


def test_summary_names_the_rules():
    text = _machine.summary()
    assert f"vector {_machine.vector_bits()} bits" in text
    assert str(_machine.tiles(4)) in text and str(_machine.tiles(8)) in text
