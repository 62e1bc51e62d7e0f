# ruff: noqa  (profiling scripts, kept as run)
"""Stacked AMP with 2 threads: where the second thread goes (issue 19, third round), interleaved, wall time.

    PYTHONPATH=$PWD python benchmarks/profile_issue19/prof_amp_threads.py [signals=1000] [rounds=3]

Strategies of csbench's ``decode("amp", gemm=True)`` on ``signals`` trials (blocks of 2^21 / n trials):
  nested   the code before the third round: 2 numba threads, one block each, whose products each ask
           OpenBLAS for 2 threads (4 threads wanted on 2 cores);
  blocks   2 numba threads, one block each, BLAS limited to 1 thread (threadpoolctl) meanwhile;
  blas     1 numba thread (blocks one after another), BLAS with 2 threads in the products;
  default  what decode() does now;
and the numpy stacked AMP with 2 BLAS threads. Run without OMP_NUM_THREADS / OPENBLAS_NUM_THREADS set.
"""
import os, sys, time
import numpy as np
import numba
from threadpoolctl import threadpool_limits
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench_shared_dictionary import problem, numpy_amp
import csbench
import csbench.decoders.amp as D

ta = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
k = 8


def strategies(A, Y, kw):
    def nested():
        numba.set_num_threads(2)
        with threadpool_limits(2, user_api="blas"):
            D.AMP_THREADS = "nested"
            try:
                return csbench.decode("amp", A, Y, k=k, gemm=True, **kw)
            finally:
                D.AMP_THREADS = "auto"

    def blocks():
        numba.set_num_threads(2)
        with threadpool_limits(1, user_api="blas"):
            return csbench.decode("amp", A, Y, k=k, gemm=True, **kw)

    def blas():
        numba.set_num_threads(1)
        with threadpool_limits(2, user_api="blas"):
            return csbench.decode("amp", A, Y, k=k, gemm=True, **kw)

    def default():
        numba.set_num_threads(2)
        with threadpool_limits(2, user_api="blas"):
            return csbench.decode("amp", A, Y, k=k, gemm=True, **kw)

    def numpy():
        with threadpool_limits(2, user_api="blas"):
            return numpy_amp(A, Y, tol=1e-5 if kw else 1e-9)

    return {"nested": nested, "blocks": blocks, "blas": blas, "default": default, "numpy": numpy}


for (n, m) in [(4096, 384), (1536, 384)]:
    for dt in (np.float32, np.float64):
        A, Y, _ = problem(n, m, k, ta, dt)
        kw = {"dtype": "float32"} if dt == np.float32 else {}
        fs = strategies(A, Y, kw)
        for f in fs.values():
            f()  # warm
        wall, cpu, its, ref = {}, {}, {}, None
        for _ in range(rounds):
            for name, f in fs.items():
                c, w = time.process_time(), time.perf_counter()
                r = f()
                wall.setdefault(name, []).append(time.perf_counter() - w)
                cpu.setdefault(name, []).append(time.process_time() - c)
                if name == "numpy":
                    its[name] = r[1]
                else:
                    its[name] = r.n_iter.sum()
                    if ref is None:
                        ref = r
                    assert np.array_equal(r.X_hat, ref.X_hat) and np.array_equal(r.n_iter, ref.n_iter) and np.array_equal(r.status, ref.status), name
        per = {name: 1e3 * min(v) / its[name] for name, v in wall.items()}
        print(f"({n},{m}) {np.dtype(dt).name} T={ta}, {len(A[0])} n, blocks of {max(16, (1 << 21) // n)}: ms per signal-iteration, wall (best of {rounds}): "
              + "  ".join(f"{name} {v:.4f} (numpy/this {per['numpy'] / v:.2f}, cpu/wall {min(cpu[name]) / min(wall[name]):.2f})" for name, v in per.items()), flush=True)
print("identical results across the strategies: yes (asserted)")
print("load", os.getloadavg())
