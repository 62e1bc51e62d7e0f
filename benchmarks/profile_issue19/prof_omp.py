# ruff: noqa  (profiling scripts, kept as run)
"""OMP or the lasso in Gram mode, float64 against float32 (interleaved, best of 2), with and without the G and A^T Y products.

    PYTHONPATH=$PWD python benchmarks/profile_issue19/prof_omp.py T omp|lasso [N,M ...] [--ks K ...]

(default sizes (1536, 384) and (4096, 384), k = 8 and 32).

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import sys, time, os
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench_shared_dictionary import problem, supports_equal
import csbench
from csbench.decoders.omp import omp_solve, shared_products
T = int(sys.argv[1]); fam = sys.argv[2]
rest = sys.argv[3:]
ks = tuple(int(v) for v in rest[rest.index("--ks") + 1:]) if "--ks" in rest else (8, 32)
rest = rest[:rest.index("--ks")] if "--ks" in rest else rest
sizes = [tuple(int(v) for v in a.split(",")) for a in rest] or [(1536, 384), (4096, 384)]
for (n, m) in sizes:
    for k in ks:
        data = {dt: problem(n, m, k, T, dt) for dt in (np.float64, np.float32)}
        A64, Y64, X = data[np.float64]
        lam = 0.01 * float(np.median(np.abs(Y64 @ A64).max(1)))
        tk = {}
        for rnd in range(2):
            for dt in (np.float64, np.float32):
                A, Y, _ = data[dt]
                kw = {"dtype": "float32"} if dt == np.float32 else {}
                G, B = shared_products(A, Y)
                if fam == "omp":
                    f = lambda: csbench.decode("omp", A, Y, k=k, gram=True, **kw)
                else:
                    f = lambda: csbench.decode("lasso", A, Y, lam=lam, tol=1e-5 if kw else 1e-8, gram=True, **kw)
                f() if rnd == 0 else None
                c = time.process_time(); G, B = shared_products(A, Y); tgb = time.process_time() - c
                c = time.process_time(); r = f(); t = time.process_time() - c
                tk.setdefault(dt, []).append((t, t - tgb, r))
        (t64, k64, r64), (t32, k32, r32) = [min(tk[d], key=lambda v: v[0]) for d in (np.float64, np.float32)]
        print(f"{fam} ({n},{m},{k}) T={T}: f64 {1e3*t64/T:.4f} f32 {1e3*t32/T:.4f} ms/sig ratio {t64/t32:.2f} | without G,AtY: f64 {1e3*k64/T:.4f} f32 {1e3*k32/T:.4f} ratio {k64/k32:.2f} | same supports {supports_equal(r64.X_hat, r32.X_hat.astype(float)):.3f} st32 {np.bincount(r32.status)} it {r64.n_iter.mean():.1f}/{r32.n_iter.mean():.1f}", flush=True)
print("load", os.getloadavg())
