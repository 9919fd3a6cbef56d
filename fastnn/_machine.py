"""The CPU the kernels are compiled for, and the rules that derive from it.

Read once per process, from what LLVM and the OS report, never from a table of CPU
models:

vector width
    512 bits where the target has AVX-512 (``avx512f``), 256 with AVX, 128 otherwise
    (SSE2, or any non-x86 target).
vector registers
    32 with AVX-512, 16 on other x86-64 targets, 32 elsewhere (AArch64's NEON).
caches
    The level-1 data cache and the level-2 cache of one core, from
    ``/sys/devices/system/cpu/cpu0/cache`` (Linux), else ``os.sysconf``, else 32 KiB
    and 1 MiB.

**Vector width in code generation.** LLVM's tuning for some x86 cores with AVX-512
(Intel's server cores among them) prefers 256-bit vectors (the ``prefer-256-bit``
tuning flag): the loop vectorizer then uses half the registers' width, which halved
the GEMM's speed on an Intel Xeon.  Every fastnn kernel is compiled with the LLVM
function attribute ``"prefer-vector-width"`` set to the vector width above
(:func:`tune`), which only this project's functions carry: other Numba code in the
process keeps LLVM's choice.

**Tiles of the GEMM** (``fastnn.loops.dense``), from the vector width ``W`` (bits),
the register count ``R`` and the caches, for an element of ``s`` bytes (``L = W / 8s``
lanes):

- ``MR`` rows x ``v`` vectors (``NR = v · L`` columns) of C stay in ``3R/4``
  accumulator registers, leaving ``R/4`` for the ``v`` vectors of B and the broadcast
  of A (``v + 1 <= R/4``); ``NR >= 48``, since LLVM fully unrolls a shorter column
  loop before vectorizing it, and vectorizes the k loop with gathers instead.  Among
  the ``(MR, v)`` that fill the accumulators, the fewest loads per multiply-add
  (``(MR + v) / (MR · v)``), ties to the larger MR.  Where none satisfies both (16
  registers), ``NR`` is the fewest vectors that reach 48 and ``MR`` the rows that the
  remaining registers hold, ``(R - v - 1) // v``, at least 1.
- ``KC`` (the k block): an A micro-panel, ``MR · KC · s`` bytes, takes a quarter of
  L1, rounded down to a multiple of 16.
- ``NC`` (the columns of a packed B block): ``KC · NC · s`` takes 3/8 of L2, rounded
  down to a multiple of NR.

The summation order of a GEMM element depends on KC, so results are the same bits on
one machine, whatever the thread count and the process, not across machines whose
caches differ.  :func:`summary` is part of every kernel's cache stamp
(:mod:`fastnn._cache`).
"""

import functools
import os
import platform

_CACHE_FOLDER = "/sys/devices/system/cpu/cpu0/cache"
_DEFAULT_L1, _DEFAULT_L2 = 32 * 1024, 1024 * 1024


@functools.lru_cache(maxsize=None)
def features():
    """The target's LLVM feature names that are on (``"avx512f"``, ...): the features
    Numba compiles for (``NUMBA_CPU_FEATURES`` when set, else the host's)."""
    import llvmlite.binding as llvm
    import numba

    if numba.config.CPU_FEATURES is not None:
        text = numba.config.CPU_FEATURES
    elif numba.config.CPU_NAME == "generic":
        text = ""
    else:
        text = llvm.get_host_cpu_features().flatten()
    return frozenset(f[1:] for f in text.split(",") if f.startswith("+"))


def _x86():
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@functools.lru_cache(maxsize=None)
def vector_bits():
    """Width of the vector registers the kernels use, in bits."""
    if not _x86():
        return 128
    have = features()
    if "avx512f" in have:
        return 512
    return 256 if "avx" in have else 128


@functools.lru_cache(maxsize=None)
def vector_registers():
    """Number of vector registers of that width."""
    if not _x86():
        return 32
    return 32 if "avx512f" in features() else 16


def _size(text):
    text = text.strip().upper()
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


@functools.lru_cache(maxsize=None)
def cache_sizes():
    """(L1 data, L2) cache sizes of one core, in bytes."""
    l1 = l2 = None
    try:
        for entry in sorted(os.listdir(_CACHE_FOLDER)):
            folder = os.path.join(_CACHE_FOLDER, entry)
            if not entry.startswith("index"):
                continue
            with open(os.path.join(folder, "level")) as fh:
                level = int(fh.read())
            with open(os.path.join(folder, "type")) as fh:
                kind = fh.read().strip()
            with open(os.path.join(folder, "size")) as fh:
                size = _size(fh.read())
            if level == 1 and kind in ("Data", "Unified"):
                l1 = size
            elif level == 2 and kind in ("Data", "Unified"):
                l2 = size
    except (OSError, ValueError):
        pass
    return (l1 or _sysconf("SC_LEVEL1_DCACHE_SIZE") or _DEFAULT_L1,
            l2 or _sysconf("SC_LEVEL2_CACHE_SIZE") or _DEFAULT_L2)


def _sysconf(name):
    """``os.sysconf(name)`` where the OS knows it and it is positive, else None."""
    try:
        value = os.sysconf(name)
    except (ValueError, OSError):
        return None
    return value if value > 0 else None


def _register_tile(lanes, registers):
    """(MR, v): rows and vectors per row of the accumulator tile (module docstring)."""
    accumulators = 3 * registers // 4
    spare = registers - accumulators
    best = None
    for v in range(1, accumulators + 1):
        mr = accumulators // v
        if accumulators % v or v * lanes < 48 or v + 1 > spare:
            continue
        loads = (mr + v) / (mr * v)
        if best is None or (loads, -mr) < (best[0], -best[1]):
            best = (loads, mr, v)
    if best is not None:
        return best[1], best[2]
    v = -(-48 // lanes)
    return max(1, (registers - v - 1) // v), v


@functools.lru_cache(maxsize=None)
def tiles(itemsize):
    """(MR, NR, KC, NC) of the GEMM for elements of ``itemsize`` bytes (module
    docstring)."""
    lanes = vector_bits() // (8 * itemsize)
    mr, v = _register_tile(lanes, vector_registers())
    nr = v * lanes
    l1, l2 = cache_sizes()
    kc = max(16, l1 // 4 // (mr * itemsize) // 16 * 16)
    nc = max(nr, (3 * l2 // 8) // (kc * itemsize) // nr * nr)
    return mr, nr, kc, nc


def function_attributes():
    """The LLVM function attributes of every fastnn kernel, as IR text."""
    if not _x86():
        return ()
    return (f'"prefer-vector-width"="{vector_bits()}"',)


def tune(module):
    """Give every function defined in ``module`` (an ``llvmlite.ir.Module``) the
    attributes of :func:`function_attributes`."""
    attributes = function_attributes()
    for function in module.functions:
        if not function.is_declaration:
            for attribute in attributes:
                # a string attribute, which llvmlite's set of known names refuses
                set.add(function.attributes, attribute)


@functools.lru_cache(maxsize=None)
def summary():
    """One line describing all of the above, for cache stamps and reports."""
    l1, l2 = cache_sizes()
    return (f"{platform.machine()} vector {vector_bits()} bits x {vector_registers()}, "
            f"L1d {l1 // 1024} KiB, L2 {l2 // 1024} KiB, "
            f"tiles float32 {tiles(4)} float64 {tiles(8)}, {' '.join(function_attributes())}")
