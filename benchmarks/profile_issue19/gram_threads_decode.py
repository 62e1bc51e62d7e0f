# ruff: noqa  (profiling scripts, kept as run)
"""OMP and the lasso in Gram mode at (16384, 768) with 2 BLAS and numba threads (the size whose G crashed numpy's
threaded dsyrk), T signals, float64 and float32; prints wall/CPU seconds and supports against the truth.

    PYTHONPATH=$PWD python benchmarks/profile_issue19/gram_threads_decode.py [T=64]
"""
import os, sys, time
import numpy as np
import numba
from threadpoolctl import threadpool_limits
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench_shared_dictionary import problem, supports_equal
import csbench

T = int(sys.argv[1]) if len(sys.argv) > 1 else 64
numba.set_num_threads(2)
with threadpool_limits(2, user_api="blas"):
    for dt in (np.float64, np.float32):
        A, Y, X = problem(16384, 768, 8, T, dt)
        kw = {"dtype": "float32"} if dt == np.float32 else {}
        for name, extra in (("omp", {"k": 8}), ("lasso", {"lam_ratio": 0.01, "k": 8})):
            c, w = time.process_time(), time.perf_counter()
            r = csbench.decode(name, A, Y, gram=True, **extra, **kw)
            print(f"{name} {np.dtype(dt).name} T={T} 2 threads: wall {time.perf_counter() - w:.1f} s cpu {time.process_time() - c:.1f} s, "
                  f"X {r.X_hat.dtype}, statuses {np.bincount(r.status)}, support = truth on {supports_equal(r.X_hat, X):.3f}", flush=True)
print("load", os.getloadavg())
