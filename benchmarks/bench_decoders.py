"""Speed of csbench's decoders against peer libraries on identical problems.

Every solver runs on the same seeded problems (Gaussian A, k-sparse signed x) in
one process with one BLAS thread, and we report milliseconds per problem, the
success rate (support recovered) and the accuracy reached, so that speed is
compared at equal accuracy. Both a fresh A per problem and one shared A are timed.

    python benchmarks/bench_decoders.py                 # all sizes (~10 min)
    python benchmarks/bench_decoders.py --quick         # small sizes, few trials
    python benchmarks/bench_decoders.py --compile       # JIT compile / cache-load times
    python benchmarks/bench_decoders.py --memory        # peak memory of csbench decoders

Peers are an optional extra: ``pip install -e ".[bench]"`` (skglm, celer).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # every solver on one core; override to time 2 threads

import numpy as np
from threadpoolctl import threadpool_limits

import csbench
from csbench.theory import minimax_threshold

SIZES = [(1000, 200, 10), (1000, 300, 40), (10000, 400, 20), (100000, 500, 10)]
LAM_RATIO = 0.01  # lam = 0.01 ||A^T y||_inf for every lasso solver
TOL = 1e-8
# success = support recovered, counting |x_hat_i| > 0.1 max|x| as "on" (x is +-1 on its support; the
# lasso's shrinkage and its tiny off-support entries at lam = 0.01 lam_max stay far below 0.1)
SUPPORT_TOL, SUCCESS_TOL = 0.1, 0.05


def make_problems(n, m, k, trials, shared, seed=0):
    """Identical seeded problems for every solver: (A (T,m,n) or (m,n), Y (T,m), X (T,n))."""
    cell = csbench.Cell("gaussian", "signed", n, k)
    X = csbench.make_problem(cell, 1, trials, seed)[1].X  # x does not depend on m
    if shared:
        A = csbench.make_problem(cell, m, 1, seed)[0].A[0]
        return A, X @ A.T, X
    meas, truth = csbench.make_problem(cell, m, trials, seed)
    return meas.A, meas.Y, truth.X


def mat(A, t):
    return A if A.ndim == 2 else A[t]


def lasso_objective(A, Y, X_hat, lams):
    R = Y - np.stack([mat(A, t) @ X_hat[t] for t in range(len(Y))])
    return 0.5 * (R**2).sum(1) + lams * np.abs(X_hat).sum(1)


# ---------------------------------------------------------------- peers
def peer_sklearn_lasso(A, Y, lams):
    from sklearn.linear_model import Lasso

    m = Y.shape[1]
    out = []
    for t in range(len(Y)):
        est = Lasso(alpha=lams[t] / m, fit_intercept=False, tol=TOL, max_iter=100_000)
        out.append(est.fit(mat(A, t), Y[t]).coef_)
    return np.array(out)


def peer_skglm_lasso(A, Y, lams):
    from skglm import Lasso

    m = Y.shape[1]
    return np.array([Lasso(alpha=lams[t] / m, fit_intercept=False, tol=TOL, max_iter=1000)
                     .fit(mat(A, t), Y[t]).coef_ for t in range(len(Y))])


def peer_celer_lasso(A, Y, lams):
    from celer import Lasso

    m = Y.shape[1]
    return np.array([Lasso(alpha=lams[t] / m, fit_intercept=False, tol=TOL, max_iter=1000)
                     .fit(mat(A, t), Y[t]).coef_ for t in range(len(Y))])


def peer_sklearn_omp(A, Y, k):
    from sklearn.linear_model import OrthogonalMatchingPursuit

    return np.array([OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=False)
                     .fit(mat(A, t), Y[t]).coef_ for t in range(len(Y))])


def peer_orthogonal_mp(A, Y, k):
    from sklearn.linear_model import orthogonal_mp

    if A.ndim == 2:  # one call on the whole batch: sklearn precomputes the Gram once
        return np.atleast_2d(orthogonal_mp(A, Y.T, n_nonzero_coefs=k, precompute=True).T)
    return np.array([orthogonal_mp(A[t], Y[t], n_nonzero_coefs=k, precompute=True) for t in range(len(Y))])


def numpy_amp(A, Y, max_iter=1000, tol=1e-9):
    """Plain-numpy soft-threshold AMP, the same iteration and stopping rule as csbench's ``amp``."""
    T, m = Y.shape
    n = A.shape[-1]
    tau = minimax_threshold(m / n)
    out = np.zeros((T, n))
    for t in range(T):
        At, y = mat(A, t), Y[t]
        x = np.zeros(n)
        z = y.copy()
        ynorm = np.linalg.norm(y)
        for _ in range(max_iter):
            sigma = np.linalg.norm(z) / np.sqrt(m)
            r = x + At.T @ z
            theta = tau * sigma
            x_new = np.sign(r) * np.maximum(np.abs(r) - theta, 0.0)
            onsager = np.count_nonzero(x_new) / m
            resid = y - At @ x_new
            z = resid + onsager * z
            done = (np.linalg.norm(x_new - x) <= tol * np.linalg.norm(x_new)
                    or np.linalg.norm(resid) <= tol * ynorm)
            x = x_new
            if done:
                break
        out[t] = x
    return out


# ---------------------------------------------------------------- timing
def timed(fn, A, Y, *args):
    """Run ``fn(A, Y, *args)`` once on the first problem (imports, first-call costs), then time it.

    Returns ``(output, wall seconds, CPU seconds)``; on a shared machine the CPU time (process_time,
    one BLAS and one numba thread) is the steadier of the two.
    """
    first = [a[:1] if isinstance(a, np.ndarray) and a.ndim >= 1 and len(a) == len(Y) else a for a in args]
    fn(A if A.ndim == 2 else A[:1], Y[:1], *first)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(A, Y, *args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_size(n, m, k, trials, shared, include):
    A, Y, X = make_problems(n, m, k, trials, shared)
    T = len(Y)
    rows = []

    def record(family, solver, X_hat, seconds, cpu, extra=None):
        s = csbench.score(X, X_hat, binary=False, tol=SUCCESS_TOL, support_tol=SUPPORT_TOL)
        row = {"family": family, "solver": solver, "n": n, "m": m, "k": k, "shared_A": shared,
               "trials": T, "ms_per_problem": 1e3 * seconds / T, "cpu_ms_per_problem": 1e3 * cpu / T, "success": float(s["support"].mean()),
               "median_rel_err": float(np.median(s["rel_err"]))}
        row.update(extra or {})
        rows.append(row)

    # warm up csbench kernels (compile or load the cache; not timed). A shared A is warmed on the whole batch:
    # its batch-size-dependent paths (OMP's Gram mode, AMP's stacked products) load other kernels than one trial.
    for name, kw in (("lasso", {"lam_ratio": LAM_RATIO}), ("omp", {}), ("amp", {})):
        csbench.decode(name, A, Y, k=k, **kw) if A.ndim == 2 else csbench.decode(name, A[:1], Y[:1], k=k, **kw)

    lam_max = np.abs(np.stack([mat(A, t).T @ Y[t] for t in range(T)])).max(1)
    lams = LAM_RATIO * lam_max
    if "lasso" in include:
        res, sec, cpu = timed(lambda A, Y: csbench.decode("lasso", A, Y, k=k, lam_ratio=LAM_RATIO, tol=TOL), A, Y)
        sols = {"csbench": (res.X_hat, sec, cpu)}
        peers = [("skglm", peer_skglm_lasso), ("celer", peer_celer_lasso)]
        if n <= 10000:
            peers.append(("sklearn", peer_sklearn_lasso))
        for name, fn in peers:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sols[name] = timed(fn, A, Y, lams)
        objs = {name: lasso_objective(A, Y, Xh, lams) for name, (Xh, _, _) in sols.items()}
        best = np.min(np.stack(list(objs.values())), axis=0)
        for name, (Xh, sec, cpu) in sols.items():
            subopt = float(np.max((objs[name] - best) / best))
            extra = {"max_rel_subopt": subopt}
            if name == "csbench":
                extra.update(memory_bound(m, n, shared, sec / T, passes=2.0, n_iter=float(res.n_iter.mean()),
                                          cpu_per_problem=cpu / T))
            record("lasso", name, Xh, sec, cpu, extra)
    if "omp" in include:
        res, sec, cpu = timed(lambda A, Y: csbench.decode("omp", A, Y, k=k), A, Y)
        record("omp", "csbench", res.X_hat, sec, cpu,
               memory_bound(m, n, shared, sec / T, passes=float(res.n_iter.mean()), n_iter=float(res.n_iter.mean()),
                            cpu_per_problem=cpu / T))
        record("omp", "sklearn OMP (per problem)", *timed(peer_sklearn_omp, A, Y, k))
        if n <= 10000:  # orthogonal_mp(precompute=True) forms the n x n Gram
            record("omp", "sklearn orthogonal_mp", *timed(peer_orthogonal_mp, A, Y, k))
    if "amp" in include:
        res, sec, cpu = timed(lambda A, Y: csbench.decode("amp", A, Y, k=k), A, Y)
        record("amp", "csbench", res.X_hat, sec, cpu,
               memory_bound(m, n, shared, sec / T, passes=float(res.n_iter.mean()), n_iter=float(res.n_iter.mean()),
                            cpu_per_problem=cpu / T))
        record("amp", "numpy AMP", *timed(numpy_amp, A, Y))
    if "bp" in include and n <= 1000:
        bt = min(T, 10)
        res, sec, cpu = timed(lambda A, Y: csbench.decode("basis_pursuit", A, Y), A if A.ndim == 2 else A[:bt],
                              Y[:bt])
        s = csbench.score(X[:bt], res.X_hat, binary=False, tol=SUCCESS_TOL, support_tol=SUPPORT_TOL)
        rows.append({"family": "bp", "solver": "scipy HiGHS", "n": n, "m": m, "k": k, "shared_A": shared,
                     "trials": bt, "ms_per_problem": 1e3 * sec / bt, "cpu_ms_per_problem": 1e3 * cpu / bt,
                     "success": float(s["support"].mean()),
                     "median_rel_err": float(np.median(s["rel_err"]))})
    return rows


#: Stream bandwidth of this machine (GB/s, np.copyto read + write), measured once by :func:`main`.
STREAM = {}
#: Read rates of a matrix of each fresh-A size (:func:`read_rates`), measured by :func:`main` before its runs.
READ = {}


def read_rates(m, n, reps=20, pool_bytes=1 << 30):
    """GB/s at which this machine's BLAS reads an (m, n) float64 matrix: ``A @ x`` (dgemv), one thread.

    ``hot``: the best of ``reps`` calls on one matrix (served from cache when it fits, as csbench's
    passes after the first are); ``cold``: the median over fresh matrices cycled through a
    ``pool_bytes`` pool larger than the last-level cache (the first pass over a fresh A, from memory).
    A gemv reads each entry once and does two flops per entry, so it runs at the read rate: it is the
    fastest one pass over A that this machine's BLAS achieves, the rate :func:`memory_bound`'s
    ``read_bound_fraction`` compares against.
    """
    from bench_shared_dictionary import _wall

    x = np.ones(n)
    hot = np.ones((m, n))
    hot @ x
    t_hot = min(_wall(lambda: hot @ x) for _ in range(reps))
    pool = np.ones((max(2, pool_bytes // (8 * m * n)), m, n))
    for a in pool:  # the second sweep over the pool is timed, so no page is touched for the first time
        a @ x
    t_cold = float(np.median([_wall(lambda: a @ x) for a in pool]))
    return {"hot_GBps": 8.0 * m * n / t_hot / 1e9, "cold_GBps": 8.0 * m * n / t_cold / 1e9}


def memory_bound(m, n, shared, sec_per_problem, passes, n_iter, cpu_per_problem=None):
    """The fresh-A memory bound of one csbench decoder: bytes of A it must read and the fraction of bandwidth.

    ``passes`` full reads of A (8 m n bytes each) are the least the algorithm must do per problem: AMP
    one per iteration (``A^T z`` and ``A x`` need every entry), OMP one per atom (the first for
    ``A^T y``, then ``A^T a_j`` of each new atom), the lasso two (``A^T y``, and ``A^T r`` for the final
    duality gap). ``bw_fraction`` = those bytes / time / the measured stream bandwidth (``STREAM``:
    ``np.copyto`` of 512 MB, from memory); ``bw_fraction_cpu`` the same with CPU time (steadier on a
    loaded machine); ``cache_fraction`` against the copy rate of a 16 MB array (cache-resident: an A
    that fits the last-level cache is read from there after its first pass); ``equiv_passes`` = how
    many reads of A the measured time would allow at stream bandwidth.

    ``read_bound_fraction`` (CPU time) is the time these passes take at this machine's measured read
    rates for a matrix of A's shape (:func:`read_rates`), the first from memory and the others at the
    hot rate, divided by the measured time::

        t_bound = 8 m n / cold + (passes - 1) 8 m n / hot

    i.e. the fraction of the hardware limit for exactly the bytes the decoder must read.
    """
    if shared or not STREAM:
        return {}
    a_bytes = 8.0 * m * n
    rate = STREAM["copy_GBps"] * 1e9
    cpu = sec_per_problem if cpu_per_problem is None else cpu_per_problem
    out = {"n_iter_mean": n_iter, "A_bytes_per_iter": a_bytes * passes / max(n_iter, 1.0),
           "must_read_bytes": a_bytes * passes, "bw_fraction": a_bytes * passes / sec_per_problem / rate,
           "bw_fraction_cpu": a_bytes * passes / cpu / rate,
           "cache_fraction": a_bytes * passes / cpu / (STREAM["cache_copy_GBps"] * 1e9),
           "equiv_passes": sec_per_problem * rate / a_bytes}
    rates = READ.get((m, n))
    if rates:
        t_bound = a_bytes / (rates["cold_GBps"] * 1e9) + (passes - 1.0) * a_bytes / (rates["hot_GBps"] * 1e9)
        out.update(read_cold_GBps=rates["cold_GBps"], read_hot_GBps=rates["hot_GBps"],
                   read_bound_ms=1e3 * t_bound, read_bound_fraction=t_bound / cpu)
    return out


def print_memory_bound(rows, file=None):
    """The fresh-A rows of csbench's lasso, OMP and AMP against the stream bandwidth and the read-rate bound."""
    sel = [r for r in rows if "bw_fraction" in r]
    if not sel:
        return
    print(f"fresh A against the measured stream bandwidth ({STREAM['copy_GBps']:.1f} GB/s, np.copyto of 512 MB; "
          f"cache: {STREAM['cache_copy_GBps']:.1f} GB/s, 16 MB) and against the read rates of A (dgemv):", file=file)
    print(f"{'family':<7}{'n':>7}{'m':>5}{'k':>4}{'iters':>8}{'A MB/iter':>11}{'must-read MB':>14}{'ms/prob':>9}"
          f"{'% of BW':>9}{'% BW (cpu)':>11}{'% cache BW':>11}{'passes at BW':>14}"
          f"{'read cold/hot GB/s':>20}{'bound ms':>10}{'% of bound':>11}", file=file)
    for r in sel:
        print(f"{r['family']:<7}{r['n']:>7}{r['m']:>5}{r['k']:>4}{r.get('n_iter_mean', np.nan):>8.1f}"
              f"{r['A_bytes_per_iter'] / 1e6:>11.2f}{r['must_read_bytes'] / 1e6:>14.2f}{r['ms_per_problem']:>9.3f}"
              f"{100 * r['bw_fraction']:>9.1f}{100 * r['bw_fraction_cpu']:>11.1f}{100 * r['cache_fraction']:>11.1f}"
              f"{r['equiv_passes']:>14.1f}"
              f"{r.get('read_cold_GBps', np.nan):>11.1f}/{r.get('read_hot_GBps', np.nan):<8.1f}"
              f"{r.get('read_bound_ms', np.nan):>10.3f}{100 * r.get('read_bound_fraction', np.nan):>11.1f}", file=file)
    print("iterations: AMP iterations, OMP atoms, lasso CD epochs (the lasso's must-read is per problem: 2 passes); "
          "passes at BW = reads of A the measured time would allow at stream bandwidth; bound = the first pass at "
          "the cold read rate, the others at the hot one; % of bound = bound / CPU time", file=file)


def print_table(rows, file=None):
    print(f"{'family':<7}{'solver':<28}{'n':>7}{'m':>5}{'k':>4}{'A':>8}{'T':>5}{'ms/prob':>10}"
          f"{'ratio':>8}{'cpu ms':>9}{'cpu rat':>8}{'success':>9}{'subopt':>10}", file=file)
    fastest_peer = {}
    for r in rows:
        if r["solver"] != "csbench":
            key = (r["family"], r["n"], r["m"], r["k"], r["shared_A"])
            wall, cpu = fastest_peer.get(key, (np.inf, np.inf))
            fastest_peer[key] = (min(wall, r["ms_per_problem"]), min(cpu, r["cpu_ms_per_problem"]))
    for r in rows:
        key = (r["family"], r["n"], r["m"], r["k"], r["shared_A"])
        wall, cpu = fastest_peer.get(key, (np.nan, np.nan)) if r["solver"] == "csbench" else (np.nan, np.nan)
        sub = r.get("max_rel_subopt", np.nan)
        print(f"{r['family']:<7}{r['solver']:<28}{r['n']:>7}{r['m']:>5}{r['k']:>4}"
              f"{'shared' if r['shared_A'] else 'fresh':>8}{r['trials']:>5}{r['ms_per_problem']:>10.3f}"
              f"{wall / r['ms_per_problem']:>8.1f}{r['cpu_ms_per_problem']:>9.3f}{cpu / r['cpu_ms_per_problem']:>8.1f}"
              f"{r['success']:>9.2f}{sub:>10.1e}", file=file)
    print("ratio = fastest peer's ms / csbench's ms (> 1: csbench faster), of wall and of CPU time; subopt = max "
          "relative objective gap to the best solver on each problem", file=file)


# ---------------------------------------------------------------- compile time and memory
_COMPILE_SNIPPET = """
import time, numpy as np, csbench
A = np.random.default_rng(0).standard_normal((20, 50)) / np.sqrt(20)
x = np.zeros(50); x[:3] = 1.0
Y = np.stack([A @ x, A @ x])
out = {}
for name in ("lasso", "omp", "amp"):
    for a in (A, np.broadcast_to(A, (2, 20, 50)).copy()):
        t0 = time.perf_counter(); csbench.decode(name, a, Y, k=3)
        out[f"{name}/{'shared' if a.ndim == 2 else 'batch'}"] = time.perf_counter() - t0
print(__import__('json').dumps(out))
"""


def compile_times():
    """First-call times with an empty numba cache (compile) and with a warm cache (load)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [json.loads(subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, check=True,
                                          capture_output=True, text=True).stdout) for _ in range(2)]
    print(f"{'kernel':<16}{'cold (compile) s':>18}{'warm (cache) s':>16}")
    for key in runs[0]:
        print(f"{key:<16}{runs[0][key]:>18.2f}{runs[1][key]:>16.3f}")
    return runs


_MEMORY_SNIPPET = """
import json, sys, numpy as np, csbench
sys.path.insert(0, {bench_dir!r})
from bench_decoders import make_problems

def status(field):  # kB, from /proc/self/status (Linux)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

name, n, m, k, T = sys.argv[1], *map(int, sys.argv[2:6])
A, Y, X = make_problems(n, m, k, T, shared=False)
csbench.decode(name, A[:1], Y[:1], k=k)   # compile / load
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                            # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
csbench.decode(name, A, Y, k=k)
print(json.dumps({{"peak_increase_MB": (status("VmHWM:") - before) / 1024}}))
"""


def memory(n=10000, m=400, k=20, T=20):
    """Peak-RSS increase of one batched decode call (outputs are T*n doubles = T*n*8 bytes)."""
    snippet = _MEMORY_SNIPPET.format(bench_dir=os.path.dirname(os.path.abspath(__file__)))
    print(f"peak RSS increase during decode, n={n} m={m} k={k} T={T} (A is {T*m*n*8/2**20:.0f} MB, "
          f"outputs {T*n*8/2**20:.1f} MB; one m*n temporary would be {m*n*8/2**20:.0f} MB)")
    out = {}
    for name in ("lasso", "omp", "amp"):
        # a fixed mmap threshold makes every allocation > 128 kB a fresh mapping, so RSS sees it
        # (glibc's dynamic threshold would otherwise recycle freed blocks of up to 32 MB unseen)
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        r = json.loads(subprocess.run([sys.executable, "-c", snippet, name, str(n), str(m), str(k), str(T)],
                                      check=True, capture_output=True, text=True, env=env).stdout)
        out[name] = r
        print(f"  {name:<6} {r['peak_increase_MB']:8.2f} MB")
    return out


def machine():
    import numba

    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "numba_threads": numba.get_num_threads()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two small sizes, 20 trials")
    p.add_argument("--trials", type=int, default=None, help="trials per size (default: 100/50/20/3 by size)")
    p.add_argument("--only", nargs="+", default=["lasso", "omp", "amp", "bp"])
    p.add_argument("--compile", action="store_true", help="report JIT compile and cache-load times")
    p.add_argument("--memory", action="store_true", help="report peak memory of csbench decoders")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--sizes", nargs="+", default=None, metavar="N,M,K",
                   help="problem sizes to run (default: all of SIZES; --quick: the first two)")
    args = p.parse_args(argv)
    print("machine:", machine())
    if args.compile:
        compile_times()
    if args.memory:
        memory()
    if args.compile or args.memory:
        return 0
    sizes = SIZES[:2] if args.quick else SIZES
    if args.sizes:
        sizes = [tuple(int(v) for v in size.split(",")) for size in args.sizes]
    default_trials = {1000: 100, 10000: 30, 100000: 3}
    from bench_shared_dictionary import stream_bandwidth

    STREAM.update(stream_bandwidth())
    STREAM["cache_copy_GBps"] = stream_bandwidth(nbytes=1 << 24, reps=20)["copy_GBps"]
    print("stream bandwidth:", STREAM)
    with threadpool_limits(1):
        for n, m, k in sizes:
            READ[(m, n)] = read_rates(m, n)
    print("read rates of A (dgemv, one thread):", {f"{n},{m}": v for (m, n), v in READ.items()})
    print("load average before:", os.getloadavg())
    rows = []
    with threadpool_limits(1):
        for n, m, k in sizes:
            T = args.trials or (20 if args.quick else default_trials.get(n, 10))
            for shared in (False, True):
                new = run_size(n, m, k, T, shared, args.only)
                print_table(new, file=sys.stderr)  # progress, and nothing lost if a later size fails
                rows += new
    print_table(rows)
    print_memory_bound(rows)
    print("load average after:", os.getloadavg())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "stream": STREAM, "rows": rows,
                       "read_rates": {f"{n},{m}": v for (m, n), v in READ.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
