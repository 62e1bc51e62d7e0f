"""Speed of the counter-based matrix generator (csbench.kernels.philox) against numpy's PCG64 draws.

For each (m, n): best of ``--repeat`` runs of

* ``gaussian``: the encoder (Philox4x32-10 + Box-Muller, numba, one thread) vs
  ``rng.standard_normal((m, n)) / sqrt(m)`` (the former encoder: PCG64 + ziggurat);
* ``rademacher``: the encoder vs ``np.where(rng.random((m, n)) < 0.5, 1.0, -1.0) / sqrt(m)``;
* matrix-free products of :class:`csbench.operators.GeneratedOperator` (``A x``
  dense x, ``A^T r``; each regenerates the m n entries) vs BLAS on the dense matrix.

The 1-minute load average is printed: on a shared machine the times are inflated.

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_generator.py
    python benchmarks/bench_generator.py --sizes 1000x1000 4000x4000 --json results/bench/generator.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from csbench.encoders.generated import gaussian, philox_key, rademacher  # noqa: E402
from csbench.operators import GeneratedOperator  # noqa: E402


def best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["300x1000", "1000x1000", "2000x4000"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    gaussian(np.random.default_rng(0), 2, 3)  # compile / load the numba cache outside the timings
    rademacher(np.random.default_rng(0), 2, 3)
    rows = []
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    print(f"{'m x n':>11} {'kind':>10} {'philox s':>9} {'numpy s':>9} {'ratio':>6} {'Ax s':>8} {'ATr s':>8} "
          f"{'BLAS Ax s':>9}")
    for size in a.sizes:
        m, n = (int(v) for v in size.split("x"))
        for kind, enc, old in [
            ("gaussian", gaussian, lambda r: r.standard_normal((m, n)) / np.sqrt(m)),
            ("rademacher", rademacher, lambda r: np.where(r.random((m, n)) < 0.5, 1.0, -1.0) / np.sqrt(m)),
        ]:
            t_new = best(lambda: enc(np.random.default_rng(1), m, n), a.repeat)
            t_old = best(lambda: old(np.random.default_rng(1)), a.repeat)
            op = GeneratedOperator(kind, philox_key(np.random.default_rng(1)), m, n)
            x, r = np.random.default_rng(2).standard_normal(n), np.random.default_rng(3).standard_normal(m)
            t_ax = best(lambda: op.matvec(x), a.repeat)
            t_atr = best(lambda: op.rmatvec(r), a.repeat)
            A = op.dense()
            t_blas = best(lambda: A @ x, a.repeat)
            row = {"m": m, "n": n, "kind": kind, "philox_s": t_new, "numpy_s": t_old, "ratio": t_new / t_old,
                   "matvec_s": t_ax, "rmatvec_s": t_atr, "blas_matvec_s": t_blas}
            rows.append(row)
            print(f"{size:>11} {kind:>10} {t_new:9.4f} {t_old:9.4f} {t_new / t_old:6.2f} {t_ax:8.4f} {t_atr:8.4f} "
                  f"{t_blas:9.5f}")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    if a.json:
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
