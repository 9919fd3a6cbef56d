"""Compile every kernel the asv suite will call, in one process, into fastnn's cache.

Run it before ``asv run --python=same`` (``.ci/run`` does)::

    FASTNN_BENCH_PROFILE=quick python -m benchmarks.compile_cache

Why: asv runs each benchmark in a process of its own, and each process compiles
what its ``setup`` needs or loads it from fastnn's on-disk cache.  A process that
compiles a new signature while other kernels came from the cache may not save it,
and drops fastnn's cache files (see ``fastnn._config._CompileGuard``: saved, such a
result would crash the next process that loads it).  Without this step about every
other benchmark process therefore compiles from scratch.  Here the cache is emptied
first, then every benchmark's ``setup`` runs for every parameter combination of the
current size profile, so each kernel is compiled and saved once, whole, and the asv
processes only load it.

Nothing is timed.  A benchmark class whose ``setup`` raises ``NotImplementedError``
(a peer library that is not installed) is skipped, as asv skips it.
"""

import importlib
import itertools
import os
import pkgutil
import sys
import time


def _benchmark_classes():
    here = os.path.dirname(os.path.abspath(__file__))
    for info in sorted(pkgutil.iter_modules([here]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f".{info.name}", __package__)
        for name, value in sorted(vars(module).items()):
            if (isinstance(value, type) and not name.startswith("_") and value.__module__ == module.__name__
                    and hasattr(value, "setup")):
                yield f"{info.name}.{name}", value


def _combinations(cls):
    params = getattr(cls, "params", [])
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]  # asv's form for a single parameter
    return list(itertools.product(*params))


def main():
    """Empty fastnn's cache, then run every benchmark ``setup`` of the profile once."""
    import fastnn
    from fastnn import _config

    if not _config.CACHE:
        print("compile_cache: FASTNN_CACHE is off, nothing to do")
        return 0
    _config._drop_all_caches()
    start = time.perf_counter()
    for label, cls in _benchmark_classes():
        ran = 0
        for combination in _combinations(cls):
            bench = cls()
            try:
                bench.setup(*combination)
            except NotImplementedError:
                break
            ran += 1
            teardown = getattr(bench, "teardown", None)
            if teardown is not None:
                teardown(*combination)
        print(f"compile_cache: {label}: {ran} setups ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"compile_cache: fastnn {fastnn.__version__} kernels compiled and cached "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
