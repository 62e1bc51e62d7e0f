# ruff: noqa  (profiling scripts, kept as run)
"""OMP Gram mode through decode(): where the time goes outside the kernel (float64 and float32, interleaved, best of 3).

    PYTHONPATH=$PWD python benchmarks/profile_issue19/omp_parts.py T

Parts per signal: decode() in all; G = A^T A; A^T Y (Y A); the kernel (omp_batch on all signals, X given);
allocating and first touching X (T, n); X.astype(float32). Third round of issue 19 (docs/benchmarks.md); one thread.
"""
import os, sys, time
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench_shared_dictionary import problem
import csbench
from csbench.decoders.precision import gram_matrix
from csbench.kernels import omp as K

T = int(sys.argv[1])


def cpu(f):
    c = time.process_time(); r = f(); return time.process_time() - c, r


for (n, m) in [(1536, 384), (4096, 384)]:
    for k in (8, 32):
        data = {dt: problem(n, m, k, T, dt) for dt in (np.float64, np.float32)}
        best = {}
        for rnd in range(3):
            for dt in (np.float64, np.float32):
                A, Y, _ = data[dt]
                single = dt == np.float32
                kw = {"dtype": "float32"} if single else {}
                parts = {}
                parts["decode"], r = cpu(lambda: csbench.decode("omp", A, Y, k=k, gram=True, **kw))
                parts["G"], G = cpu(lambda: gram_matrix(A))
                parts["AtY"], B = cpu(lambda: Y @ A)
                nsq = np.ascontiguousarray(np.diagonal(G))
                xd = single  # this tree: Gram mode writes float32 X (third round)
                parts["X alloc+touch"], X = cpu(lambda: np.full((T, n), 0.0, dt if xd else np.float64))
                fl, dep = (K.CORR_FLOOR32, K.DEP_TOL32) if single else (K.CORR_FLOOR, K.DEP_TOL)
                ni = np.zeros(T, np.int64); st = np.zeros(T, np.int8); sel = np.empty((T, k), np.int64)
                parts["kernel"], _ = cpu(lambda: K.omp_batch(A[None], Y, G, B, nsq, np.int64(k), -1.0, fl, dep, X, ni, st, sel, np.int64(0), np.int64(T)))
                parts["astype f32"], _ = cpu(lambda: X.astype(np.float32)) if single and not xd else (0.0, None)
                for key, v in parts.items():
                    best.setdefault((dt, key), []).append(v)
                del G, B, X, r
        keys = ["decode", "G", "AtY", "kernel", "X alloc+touch", "astype f32"]
        for dt in (np.float64, np.float32):
            vals = {key: 1e6 * min(best[(dt, key)]) / T for key in keys}
            rest = vals["decode"] - sum(vals[key] for key in keys[1:4])
            print(f"({n},{m},{k}) {np.dtype(dt).name}: " + "  ".join(f"{key} {v:.1f}" for key, v in vals.items()) + f"  decode - (G+AtY+kernel) {rest:.1f} us/signal", flush=True)
        d = {key: min(best[(np.float64, key)]) / min(best[(np.float32, key)]) if min(best[(np.float32, key)]) > 0 else np.nan for key in keys}
        print("   f64/f32: " + "  ".join(f"{key} {v:.2f}" for key, v in d.items()), flush=True)
print("load", os.getloadavg())
