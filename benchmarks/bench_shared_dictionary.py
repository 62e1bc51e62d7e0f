"""One dictionary, many signals: csbench's shared-dictionary paths against SPAMS, scikit-learn and numpy.

The interpretability workload (issue 19): one A (m, n) with unit-norm Gaussian columns, T signals
``y = A x`` with k-sparse Gaussian x. Every solver gets the same problems in one run, interleaved:

* OMP, k atoms: csbench ``decode("omp", gram=True)``; SPAMS ``spams.omp(L=k)`` (batch OMP, Gram);
  scikit-learn ``orthogonal_mp_gram`` on the first ``--sklearn-trials`` signals (its ``A^T Y`` in its
  time, its G time spread over T).
* lasso ``1/2 ||y - A x||^2 + lam ||x||_1`` at one lam for all signals, ``lam = LAM_RATIO *
  median_t ||A^T y_t||_inf``: csbench ``decode("lasso", lam=lam, gram=True)`` (duality gap
  <= 1e-8 ||y||^2 / 2; 1e-5 in float32, csbench's float32 floor, also for scikit-learn); SPAMS ``spams.lasso(lambda1=lam, mode=2)`` (LARS-lasso; mode 2 minimises
  ``0.5 ||y - D a||^2 + lambda1 ||a||_1``, the same objective and the same lam: the objective gaps
  printed show it); scikit-learn ``Lasso(alpha=lam / m, precompute=G)`` (its objective is csbench's
  divided by m), run on the first ``--sklearn-trials`` signals (slow) with its G time spread over T.
* AMP (soft threshold, minimax tau): csbench ``decode("amp", gemm=True)`` against a plain-numpy AMP
  that stacks the running trials into one matrix product per half-iteration (same iteration and
  per-trial stopping rule; in float32 both stop at tol 1e-5, csbench's float32 floor); time per
  signal per iteration, on the first ``--amp-trials`` signals.

Each configuration runs with one thread (BLAS, numba, SPAMS) and with all cores, in float64 and
float32 (float32 inputs for SPAMS and the numpy AMP; csbench's ``dtype="float32"``), and prints per-signal
milliseconds, the ratio peer / csbench (> 1: csbench faster), and the fraction of the machine's
measured GEMM rate and stream bandwidth each reaches, from nominal counts:

* OMP and lasso, per signal: flops ``m n^2 / T`` (G) ``+ 2 m n`` (``A^T y``) ``+ n k^2`` (the
  correlation updates ``c -= G_S x_S`` of k steps); bytes: ``itemsize * (m + n + k n)`` (y in,
  x out, k rows of G);
* AMP, per signal and iteration: flops ``4 m n`` (two products); bytes ``itemsize * (4 n + 4 m)``
  (the stacked (T, n) and (T, m) operands and results of both products; A itself stays in cache).

GEMM rate: a (2048 x 2048) @ (2048 x 2048) product; stream bandwidth: ``np.copyto`` of a 512 MB array
(read + write bytes) and ``np.sum`` of it (read bytes), best of 5; both measured here, per thread
setting and dtype.

    python benchmarks/bench_shared_dictionary.py                 # T = 10^4, all sizes (long)
    python benchmarks/bench_shared_dictionary.py --quick         # T = 1000, k in (8, 32)
    python benchmarks/bench_shared_dictionary.py --sizes 1536,384 --ks 16 --threads 1 --dtypes float64

Peers: ``pip install -e ".[bench]"`` (spams-bin, ...). Results go to ``results/bench/shared_dictionary.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

SIZES = [(1536, 384), (4096, 384), (16384, 768)]
KS = (8, 16, 32, 64)
LAM_RATIO = 0.01
TOL = 1e-8


def problem(n, m, k, T, dtype, seed=0):
    """A (m, n) with unit-norm Gaussian columns, X (T, n) k-sparse Gaussian, Y = X A^T; all in ``dtype``."""
    a_seq, x_seq = np.random.SeedSequence([seed, n, m]).spawn(2)
    A = np.random.default_rng(a_seq).standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, m, k]))
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    Y = X @ A.T
    return A.astype(dtype), Y.astype(dtype), X


# ---------------------------------------------------------------- machine rates
def gemm_rate(dtype, size=2048, reps=3):
    """Best GFLOP/s of a (size x size) @ (size x size) numpy product (2 size^3 flops)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, size, size)).astype(dtype)
    a @ b
    best = min(_wall(lambda: a @ b) for _ in range(reps))
    return 2 * size**3 / best / 1e9


def stream_bandwidth(nbytes=1 << 29, reps=5):
    """Best GB/s of ``np.copyto`` (read + write) and of ``np.sum`` (read) over an ``nbytes`` float64 array."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    copy = min(_wall(lambda: np.copyto(dst, src)) for _ in range(reps))
    read = min(_wall(lambda: src.sum()) for _ in range(reps))
    return {"copy_GBps": 2 * nbytes / copy / 1e9, "sum_GBps": nbytes / read / 1e9}


def _wall(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed(fn):
    """``(result, wall s, CPU s)`` of one call."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


# ---------------------------------------------------------------- solvers
def csbench_omp(A, Y, k, dtype):
    import csbench

    return csbench.decode("omp", A, Y, k=k, gram=True, **_dt(dtype)).X_hat


def csbench_lasso(A, Y, lam, dtype):
    import csbench

    return csbench.decode("lasso", A, Y, lam=lam, tol=_tol(dtype), gram=True, **_dt(dtype)).X_hat


def _tol(dtype):
    """The lasso's tolerance: TOL, or csbench's float32 floor ``TOL32`` = 1e-5 for float32 (scikit-learn's
    coordinate descent in float32 does not reach 1e-8 and runs to ``max_iter``: ~1 s per signal)."""
    from csbench.decoders.precision import TOL32

    return TOL32 if np.dtype(dtype) == np.float32 else TOL


def csbench_amp(A, Y, k, dtype):
    import csbench

    res = csbench.decode("amp", A, Y, k=k, gemm=True, **_dt(dtype))
    return res.X_hat, int(res.n_iter.sum())


def _dt(dtype):
    return {"dtype": "float32"} if dtype == np.float32 else {}


def spams_omp(A, Y, k, threads):
    import spams

    # eps=0 given explicitly: with its default, spams-bin 2.6.14's float32 OMP returns x = 0 for every signal
    return spams.omp(np.asfortranarray(Y.T), np.asfortranarray(A), L=k, eps=0.0, numThreads=threads).toarray().T


def spams_lasso(A, Y, lam, threads):
    import spams

    return spams.lasso(np.asfortranarray(Y.T), np.asfortranarray(A), lambda1=float(lam), mode=2,
                       numThreads=threads).toarray().T


def sklearn_omp_gram(A, Y, k, G):
    from sklearn.linear_model import orthogonal_mp_gram

    return np.atleast_2d(orthogonal_mp_gram(G, A.T @ Y.T, n_nonzero_coefs=k, copy_Gram=False, copy_Xy=False).T)


def sklearn_lasso_gram(A, Y, lam, G):
    from sklearn.linear_model import Lasso

    m = A.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = Lasso(alpha=lam / m, fit_intercept=False, precompute=G, tol=_tol(A.dtype), max_iter=100_000)
        return np.atleast_2d(est.fit(A, Y.T).coef_)


def numpy_amp(A, Y, max_iter=1000, tol=1e-9):
    """Soft-threshold AMP on all signals at once (running trials stacked in one GEMM per half-iteration).

    The iteration and the per-trial stopping rule of ``csbench.kernels.amp.amp_batch``; a trial leaves
    the stack when it stops. Returns ``(X_hat, signal-iterations)``.
    """
    from csbench.theory import minimax_threshold

    T, m = Y.shape
    n = A.shape[1]
    tau = minimax_threshold(m / n)
    out = np.zeros((T, n), A.dtype)
    act = np.arange(T)
    y = Y
    ynorm = np.linalg.norm(Y, axis=1)
    x = np.zeros((T, n), A.dtype)
    z = Y.copy()
    its = 0
    for _ in range(max_iter):  # every operand kept in A's dtype (a float64 theta would promote float32 to float64)
        sigma = np.linalg.norm(z, axis=1) / np.sqrt(m)
        r = x + z @ A
        theta = (tau * sigma)[:, None].astype(A.dtype)
        xn = np.sign(r) * np.maximum(np.abs(r) - theta, 0)
        onsager = (np.count_nonzero(xn, axis=1) / m).astype(A.dtype)
        resid = y - xn @ A.T
        z = resid + onsager[:, None] * z
        its += act.size
        done = ((np.linalg.norm(xn - x, axis=1) <= tol * np.linalg.norm(xn, axis=1))
                | (np.linalg.norm(resid, axis=1) <= tol * ynorm[act]))
        x = xn
        if done.any():
            out[act[done]] = x[done]
            keep = ~done
            act, x, z, y = act[keep], x[keep], z[keep], y[keep]
        if act.size == 0:
            break
    out[act] = x
    return out, its


# ---------------------------------------------------------------- one configuration
def objective(A, Y, X, lam):
    A, Y = A.astype(np.float64), Y.astype(np.float64)
    return 0.5 * ((Y - X @ A.T) ** 2).sum(1) + lam * np.abs(X).sum(1)


def supports_equal(X1, X2, rel=1e-6):
    """Fraction of signals whose supports (|x_j| > rel max|x|) agree."""
    s1 = np.abs(X1) > rel * np.abs(X1).max(1, keepdims=True)
    s2 = np.abs(X2) > rel * np.abs(X2).max(1, keepdims=True)
    return float((s1 == s2).all(1).mean())


def run_config(n, m, k, T, dtype, threads, rates, include, sk_trials, amp_trials):
    import numba

    # scikit-learn's G: csbench's helper (numpy's A.T @ A segfaults with 2 threads at n = 16384, precision.py)
    from csbench.decoders.precision import gram_matrix

    A, Y, X = problem(n, m, k, T, dtype)
    itemsize = np.dtype(dtype).itemsize
    gemm, bw = rates["gemm_GFLOPs"][np.dtype(dtype).name], rates["bandwidth"]["copy_GBps"]
    rows = []

    def row(family, solver, sec, cpu, per, flops, nbytes, extra=None):
        r = {"family": family, "solver": solver, "n": n, "m": m, "k": k, "T": T, "dtype": np.dtype(dtype).name,
             "threads": threads, "ms": 1e3 * sec / per, "cpu_ms": 1e3 * cpu / per,
             "gemm_fraction": flops / (sec / per) / (gemm * 1e9),
             "bandwidth_fraction": nbytes / (sec / per) / (bw * 1e9)}
        r.update(extra or {})
        rows.append(r)
        return r

    numba.set_num_threads(threads)
    with threadpool_limits(threads):
        flops_g = m * n * n / T + 2 * m * n + n * k * k
        bytes_g = itemsize * (m + n + k * n)
        if "omp" in include:
            csbench_omp(A, Y[:64], k, dtype)  # warm (compile / cache load), not timed
            Xc, sec, cpu = timed(lambda: csbench_omp(A, Y, k, dtype))
            row("omp", "csbench", sec, cpu, T, flops_g, bytes_g, {"support_vs_truth": supports_equal(Xc, X)})
            Xs, sec, cpu = timed(lambda: spams_omp(A, Y, k, threads))
            row("omp", "spams", sec, cpu, T, flops_g, bytes_g, {"support_vs_csbench": supports_equal(Xs, Xc)})
            del Xs
            ts = min(T, sk_trials)
            G, gsec, gcpu = timed(lambda: gram_matrix(A))
            Xk, sec, cpu = timed(lambda: sklearn_omp_gram(A, Y[:ts], k, G))
            del G
            row("omp", f"sklearn orthogonal_mp_gram ({ts} signals)", sec + gsec * ts / T, cpu + gcpu * ts / T, ts,
                flops_g, bytes_g, {"support_vs_csbench": supports_equal(Xk, Xc[:ts])})
        if "lasso" in include:
            Y64, A64 = Y.astype(np.float64), A.astype(np.float64)
            lam = LAM_RATIO * float(np.median(np.abs(Y64 @ A64).max(1)))
            csbench_lasso(A, Y[:64], lam, dtype)
            Xc, sec, cpu = timed(lambda: csbench_lasso(A, Y, lam, dtype))
            obj = {"csbench": objective(A, Y, Xc, lam)}
            rc = row("lasso", "csbench", sec, cpu, T, flops_g, bytes_g)
            Xs, sec, cpu = timed(lambda: spams_lasso(A, Y, lam, threads))
            obj["spams"] = objective(A, Y, Xs, lam)
            rs = row("lasso", "spams LARS", sec, cpu, T, flops_g, bytes_g,
                     {"support_vs_csbench": supports_equal(Xs, Xc)})
            del Xs
            ts = min(T, sk_trials)
            G, gsec, gcpu = timed(lambda: gram_matrix(A))
            Xk, sec, cpu = timed(lambda: sklearn_lasso_gram(A, Y[:ts], lam, G))
            del G
            rk = row("lasso", f"sklearn Lasso(precompute) ({ts} signals)", sec + gsec * ts / T, cpu + gcpu * ts / T,
                     ts, flops_g, bytes_g, {"support_vs_csbench": supports_equal(Xk, Xc[:ts])})
            best = np.minimum(obj["csbench"], obj["spams"])
            rc["max_rel_subopt"] = float(np.max((obj["csbench"] - best) / best))
            rs["max_rel_subopt"] = float(np.max((obj["spams"] - best) / best))
            ok = objective(A, Y[:ts], Xk, lam)
            rk["max_rel_subopt"] = float(np.max((ok - best[:ts]) / best[:ts]))
        if "amp" in include:
            ta = min(T, amp_trials)
            csbench_amp(A, Y[:64], k, dtype)
            (Xc, its), sec, cpu = timed(lambda: csbench_amp(A, Y[:ta], k, dtype))
            row("amp", f"csbench (per iteration, {ta} signals)", sec, cpu, its, 4 * m * n,
                itemsize * (4 * n + 4 * m), {"iterations_per_signal": its / ta})
            (Xn, its_n), sec, cpu = timed(lambda: numpy_amp(A, Y[:ta], tol=1e-5 if dtype == np.float32 else 1e-9))
            row("amp", f"numpy stacked AMP (per iteration, {ta})", sec, cpu, its_n, 4 * m * n,
                itemsize * (4 * n + 4 * m), {"iterations_per_signal": its_n / ta, "support_vs_csbench":
                                             supports_equal(Xn, Xc, rel=1e-3)})
    return rows


def print_rows(rows, file=None):
    base = {(r["family"], r["n"], r["m"], r["k"], r["dtype"], r["threads"]): r["ms"] for r in rows
            if r["solver"].startswith("csbench")}
    print(f"{'family':<7}{'solver':<40}{'n':>6}{'m':>5}{'k':>4}{'dtype':>8}{'thr':>4}{'ms/signal':>11}{'cpu ms':>9}"
          f"{'peer/cs':>8}{'GEMM %':>8}{'BW %':>7}{'supp':>6}{'subopt':>9}", file=file)
    for r in rows:
        key = (r["family"], r["n"], r["m"], r["k"], r["dtype"], r["threads"])
        ratio = r["ms"] / base[key] if key in base and not r["solver"].startswith("csbench") else np.nan
        supp = r.get("support_vs_csbench", r.get("support_vs_truth", np.nan))
        print(f"{r['family']:<7}{r['solver']:<40}{r['n']:>6}{r['m']:>5}{r['k']:>4}{r['dtype']:>8}{r['threads']:>4}"
              f"{r['ms']:>11.4f}{r['cpu_ms']:>9.4f}{ratio:>8.2f}{100 * r['gemm_fraction']:>8.1f}"
              f"{100 * r['bandwidth_fraction']:>7.1f}{supp:>6.2f}{r.get('max_rel_subopt', np.nan):>9.1e}", file=file)
    print("peer/cs = peer's time / csbench's (> 1: csbench faster); AMP rows are per signal per iteration; supp = "
          "fraction of signals with the same support as csbench (csbench's row: as the true x); subopt = largest "
          "relative objective gap to the better of csbench and SPAMS", file=file)


def machine():
    import numba

    model = next((line.split(":", 1)[1].strip() for line in
                  subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if line.startswith("Model name")), platform.processor())
    versions = {}
    for mod in ("spams", "sklearn"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional peers
            versions[mod] = None
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, **versions, "loadavg": os.getloadavg()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="T = 1000 and k in (8, 32)")
    p.add_argument("--trials", type=int, default=None, help="signals T (default 10^4; --quick 1000)")
    p.add_argument("--sizes", nargs="+", default=None, metavar="N,M", help="dictionary sizes (default: all)")
    p.add_argument("--ks", nargs="+", type=int, default=None, help=f"sparsities (default {KS})")
    p.add_argument("--threads", nargs="+", default=["1", "all"], help="thread settings: 1 and/or all")
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    p.add_argument("--only", nargs="+", default=["omp", "lasso", "amp"], choices=["omp", "lasso", "amp"])
    p.add_argument("--sklearn-trials", type=int, default=500,
                   help="signals given to scikit-learn (slow; its G time is spread over T)")
    p.add_argument("--amp-trials", type=int, default=2000,
                   help="signals for the AMP rows (per-iteration times; 4 m n flops per signal and iteration)")
    p.add_argument("--json", default="results/bench/shared_dictionary.json")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    T = args.trials or (1000 if args.quick else 10_000)
    ks = args.ks or ((8, 32) if args.quick else KS)
    sizes = [tuple(int(v) for v in s.split(",")) for s in args.sizes] if args.sizes else SIZES
    threads = [os.cpu_count() if t == "all" else int(t) for t in args.threads]
    info = machine()
    print("machine:", info)
    rates = {}
    for th in threads:
        with threadpool_limits(th):
            rates[th] = {"gemm_GFLOPs": {dt: gemm_rate(dt) for dt in args.dtypes}, "bandwidth": stream_bandwidth()}
        print(f"threads={th}: GEMM GFLOP/s {rates[th]['gemm_GFLOPs']}, stream {rates[th]['bandwidth']}")
    configs = [(n, m, k, dt, th) for n, m in sizes for k in ks for dt in args.dtypes for th in threads]
    rows = []
    for n, m, k, dt, th in tqdm(configs, desc="configurations"):
        new = run_config(n, m, k, T, np.dtype(dt).type, th, rates[th], args.only, args.sklearn_trials,
                         args.amp_trials)
        print_rows(new, file=sys.stderr)
        rows += new
    print_rows(rows)
    print("load average after:", os.getloadavg())
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": info, "load_after": os.getloadavg(), "rates": {str(k): v for k, v in rates.items()},
                       "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
