# ruff: noqa  (profiling scripts, kept as run)
"""Stacked AMP (gemm=True): time per signal-iteration in the products, the denoiser and the z-update, float64 and float32, against the numpy stacked AMP.

    PYTHONPATH=$PWD python benchmarks/profile_issue19/prof_amp.py [signals=300] [sizes=2]

Profiling scripts of issue 19's second round (docs/benchmarks.md); one thread: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1.
"""
import sys, time, os
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench_shared_dictionary import problem, numpy_amp
import csbench
import csbench.decoders.amp as D
import csbench.kernels.amp as K

acc = {}
def wrap(mod, name):
    f = getattr(mod, name)
    def g(*a, **kw):
        c = time.process_time(); out = f(*a, **kw); acc[name] = acc.get(name, 0) + time.process_time() - c; return out
    setattr(mod, name, g)
class NpWrap:
    pass
realmm = np.matmul
def mm(*a, **kw):
    c = time.process_time(); out = realmm(*a, **kw); acc["matmul"] = acc.get("matmul", 0) + time.process_time() - c; return out
ta = int(sys.argv[1]) if len(sys.argv) > 1 else 300
for (n, m) in [(1536, 384), (4096, 384), (16384, 768)][: int(sys.argv[2]) if len(sys.argv) > 2 else 2]:
    k = 8
    for rnd in range(2):
        for dt in (np.float64, np.float32):
            A, Y, X = problem(n, m, k, ta, dt)
            kw = {"dtype": "float32"} if dt == np.float32 else {}
            csbench.decode("amp", A, Y[:64], k=k, gemm=True, **kw)
            acc.clear()
            K.gemm_denoise.__wrapped__ if False else None
            c = time.process_time(); r = csbench.decode("amp", A, Y, k=k, gemm=True, **kw); tc = time.process_time() - c
            its = r.n_iter.sum()
            c = time.process_time(); Xn, itn = numpy_amp(A, Y, tol=1e-5 if dt == np.float32 else 1e-9); tn = time.process_time() - c
            # profile pass
            orig_d, orig_z = K.gemm_denoise, K.gemm_z
            wrap(K, "gemm_denoise"); wrap(K, "gemm_z"); np.matmul = mm
            c = time.process_time(); csbench.decode("amp", A, Y, k=k, gemm=True, **kw); tp = time.process_time() - c
            np.matmul = realmm; K.gemm_denoise, K.gemm_z = orig_d, orig_z
            print(f"({n},{m}) {np.dtype(dt).name}: cs {1e3*tc/its:.4f} ms/sig-it ({its/ta:.1f} it) numpy {1e3*tn/itn:.4f} ({itn/ta:.1f} it) ratio {tn/itn/(tc/its):.2f} | prof total {1e3*tp/its:.4f}: " + " ".join(f"{k2} {1e3*v/its:.4f}" for k2, v in acc.items()), flush=True)
print("load", os.getloadavg())
