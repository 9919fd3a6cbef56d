"""Training-step table for the README: fastnn (both forms) against NumPy, PyTorch and JAX.

Run from the repository root::

    python benchmarks/step_table.py            # markdown table on stdout
    python benchmarks/step_table.py --json steps.json

Every (implementation, shape) pair runs in a fresh process, one after another, so no
two thread pools (Numba's, OpenBLAS's, PyTorch's) ever share the cores: measured in
one process, a pool still spinning after its call slows the next library's call.
Each process warms up (compiles), then reports the median of ``--repeat`` samples
of about ``--target`` seconds each.

Implementations: fastnn ``Network.train_step`` (one Python call per step, as the peers
make) in both forms; fastnn inside ``fit`` (an epoch of 64 batches in one compiled
call, divided by 64); the NumPy, PyTorch (eager, 2 threads) and JAX (``jax.jit`` of the
whole step) steps of ``bench_peers``, and JAX's epoch in one call (``jax-scan``: a
``lax.scan`` of the step, divided by 64, like for like with ``loops-fit``); NumPy twice, with ``OPENBLAS_CORETYPE`` unset and
set to Haswell.  Peers that are not installed are left out.  GFLOP/s counts
6 · batch · Σ n_in · n_out (forward, input and weight gradients).

This file is a script, not an asv benchmark: it defines no ``time_`` functions.
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap

SHAPES = ["3-1-2/b1", "64-128-10/b32", "784-256-128-10/b128", "1024-1024-1024-10/b512"]
IMPLEMENTATIONS = ["loops", "loops-fit", "matrix", "numpy", "numpy-haswell", "torch", "jax", "jax-scan"]
PEERS = ["numpy", "numpy-haswell", "torch", "jax", "jax-scan"]

_RUNNER = textwrap.dedent('''
    import json, sys
    import numpy as np
    sys.path.insert(0, ".")
    impl, name, repeat, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    from benchmarks import bench_peers, common
    from fastnn.compare import measure

    widths, batch = common.parse_network(name)
    if impl.startswith("loops") or impl == "matrix":
        net = common.network(name, "matrix" if impl == "matrix" else "loops")
        if impl == "loops-fit":
            import fastnn
            x, t = common.classification(batch * bench_peers.EPOCH_BATCHES, widths[0], widths[-1], "float32")
            trainer = fastnn.Trainer(net, x, t, batch_size=batch, lr=common.LR, seed=0)
            step = trainer.epoch
            per_call = bench_peers.EPOCH_BATCHES
        else:
            x, t = common.batch(name)
            step = lambda: net.train_step(x, t, lr=common.LR)
            per_call = 1
    else:
        peer = {"numpy": bench_peers.NumPy, "numpy-haswell": bench_peers.NumPy,
                 "torch": bench_peers.Torch, "jax": bench_peers.Jax,
                 "jax-scan": bench_peers.JaxScan}[impl]()
        try:
            peer.setup(name)
        except NotImplementedError as missing:
            print(json.dumps({"skip": str(missing)}))
            sys.exit(0)
        step = peer.step
        per_call = getattr(peer, "steps_per_call", 1)
    # `target` seconds per sample, as before
    seconds, _ = measure(step, repeat, target * repeat)
    print(json.dumps({"seconds": seconds / per_call}))
''')


def _flops(name):
    widths, batch = name.split("/b")
    sizes = [int(w) for w in widths.split("-")]
    return 6 * int(batch) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _measure(impl, name, repeat, target):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if impl == "numpy-haswell":
        env["OPENBLAS_CORETYPE"] = "Haswell"
    result = subprocess.run([sys.executable, "-c", _RUNNER, impl, name, str(repeat), str(target)],
                            capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{impl} {name} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _format(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="samples per measurement (median)")
    parser.add_argument("--target", type=float, default=0.3, help="seconds per sample")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--impls", default=",".join(IMPLEMENTATIONS), help="implementations to run")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--render", help="print the table of rows written earlier with --json")
    args = parser.parse_args(argv)
    if args.render:
        with open(args.render) as fh:
            print(_table(json.load(fh)))
        return
    rows = []
    for name in args.shapes.split(","):
        row = {"shape": name}
        for impl in args.impls.split(","):
            result = _measure(impl, name, args.repeat, args.target)
            row[impl] = result.get("seconds")
            print(f"{name:24s} {impl:14s} {_format(row[impl]) if row[impl] else 'skipped'}",
                  file=sys.stderr, flush=True)
        rows.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    print(_table(rows))


def _table(rows):
    present = [impl for impl in IMPLEMENTATIONS if any(row.get(impl) for row in rows)]
    lines = ["| shape | " + " | ".join(present) + " | loops-fit vs fastest peer |",
             "|---|" + "---|" * (len(present) + 1)]
    for row in rows:
        flops = _flops(row["shape"])
        cells = [f"{_format(row[i])} ({flops / row[i] / 1e9:.3g} GF/s)" if row.get(i) else "–" for i in present]
        peers = [row[i] for i in PEERS if row.get(i)]
        ratio = f"{min(peers) / row['loops-fit']:.2f}x" if peers and row.get("loops-fit") else "–"
        lines.append(f"| {row['shape']} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
