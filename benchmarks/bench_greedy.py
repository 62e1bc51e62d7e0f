"""Speed of the greedy decoders and VAMP against plain-numpy implementations of the same algorithms.

Each csbench decoder (batched numba kernel) and its plain-numpy counterpart run on the
same seeded problems in one process, one BLAS / numba thread, interleaved (csbench,
numpy, csbench, numpy, ...; best of ``--repeats``), after a warm-up call that compiles
or loads the kernels. Reported: ms per problem for both and the ratio numpy / csbench,
and the largest difference of the estimates (the two must agree).

The numpy side is ``tests/ref_greedy.py`` (the test references, written from the papers)
with its per-atom dependence test switched off (it exists to reproduce the kernels'
``dependent_atoms`` status exactly and costs a least-squares solve per atom), and, for
VAMP, an SVD-form numpy VAMP below (the test reference's dense n x n solve per iteration
is a different, much slower algorithm).

    python benchmarks/bench_greedy.py            # n = 1000, m = 300, k = 20, 20 problems, shared A
    python benchmarks/bench_greedy.py --quick    # smaller
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import ref_greedy as R
import ref_vamp

from csbench import decode
from csbench.encoders.orthoinv import roi_matrix

R.dependent = lambda A, S: False  # plain lstsq (see the module docstring)


def vamp_numpy(A, y, kind, eps, gamma_w, max_iter=500, tol=1e-8, svd=None):
    """VAMP in SVD form in numpy (the kernel's iteration and rules, ``ref_vamp.denoise``)."""
    _m, n = A.shape
    U, s, Vt = svd if svd is not None else np.linalg.svd(A, full_matrices=False)
    yt = U.T @ y
    Rk = s.size
    x = np.zeros(n)
    r2, g2 = np.zeros(n), 1.0 / eps
    for it in range(1, max_iter + 1):
        den = gamma_w * s * s + g2
        x2 = r2 + Vt.T @ (gamma_w * s * (yt - s * (Vt @ r2)) / den)
        a2 = min(max((np.sum(g2 / den) + n - Rk) / n, 1e-11), 1 - 1e-11)
        g1 = g2 * (1 - a2) / a2
        r1 = (x2 - a2 * r2) / (1 - a2)
        x1, a1, _, _ = ref_vamp.denoise(r1, g1, kind, eps=eps)
        a1 = min(max(a1, 1e-11), 1 - 1e-11)
        dx = np.linalg.norm(x1 - x)
        x = x1
        if it > 1 and dx <= tol * np.linalg.norm(x1):
            return x, it
        g2 = g1 * (1 - a1) / a1
        r2 = (x1 - a1 * r1) / (1 - a1)
    return x, max_iter


def problems(n, m, k, T, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    return A, X @ A.T + 0.01 * rng.standard_normal((T, m)), X


def binary_problems(n, m, k, T, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.choice([-1.0, 1.0], size=(m, n)) / np.sqrt(m)
    X = np.zeros((T, n))
    for t in range(T):
        X[t, rng.choice(n, k, replace=False)] = 1.0
    return A, X @ A.T, X


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, m, k, T = (400, 120, 8, 8) if args.quick else (1000, 300, 20, 20)
    A, Y, _ = problems(n, m, k, T)
    Ab, Yb, _ = binary_problems(n, m, k, T)
    step = 1.0 / np.linalg.norm(A, 2) ** 2
    cases = [
        ("iht", A, Y, {}, lambda a, y: R.iht(a, y, k, step)[0]),
        ("niht", A, Y, {}, lambda a, y: R.niht(a, y, k)[0]),
        ("htp", A, Y, {}, lambda a, y: R.htp(a, y, k)[0]),
        ("cosamp", A, Y, {}, lambda a, y: R.cosamp(a, y, k)[0]),
        ("subspace_pursuit", A, Y, {}, lambda a, y: R.subspace_pursuit(a, y, k)[0]),
        ("matching_pursuit", A, Y, {"n_steps": 2 * k}, lambda a, y: R.matching_pursuit(a, y, 2 * k)[0]),
        ("matching_k", Ab, Yb, {"steps": 4}, lambda a, y: R.matching_k(a, y, k, 4)[0]),
        ("matching_pursuit:binary", Ab, Yb, {"binary": True}, lambda a, y: R.matching_k(a, y, k, k)[0]),
    ]
    # VAMP on an ROI matrix, kappa = 100, Bernoulli-Gaussian x, noise 0.01
    rng = np.random.default_rng(1)
    Av = roi_matrix(rng, m, n, kappa=100.0)
    Xv = np.where(rng.random((T, n)) < k / n, rng.standard_normal((T, n)), 0.0)
    Yv = Xv @ Av.T + 0.01 * rng.standard_normal((T, m))

    def vamp_np_all():
        svd = np.linalg.svd(Av, full_matrices=False)  # once per shared matrix, as the decoder does
        return np.array([vamp_numpy(Av, Yv[t], "bg", k / n, 1e4, svd=svd)[0] for t in range(T)])

    print(f"n = {n}, m = {m}, k = {k}, {T} problems, shared A, one thread; best of {args.repeats}, interleaved")
    print(f"{'decoder':26s} {'csbench ms':>11s} {'numpy ms':>9s} {'ratio':>7s} {'max |dx|':>9s}")
    rows = [(name.split(":")[0], a, y, p, (lambda a=a, y=y, f=f: np.array([f(a, y[t]) for t in range(T)])), name)
            for name, a, y, p, f in cases]
    rows.append(("vamp", Av, Yv, {"density": k / n, "noise": 0.01}, vamp_np_all, "vamp"))
    for dec, a, y, p, ref, label in rows:
        run = lambda dec=dec, a=a, y=y, p=p: decode(dec, a, y, k=k, **p).X_hat
        run()  # warm-up: compile or load the kernels
        tc, tn = [], []
        for _ in range(args.repeats):
            dt, xc = timed(run)
            tc.append(dt)
            dt, xn = timed(ref)
            tn.append(dt)
        c, r = min(tc) / T * 1e3, min(tn) / T * 1e3
        print(f"{label:26s} {c:11.3f} {r:9.3f} {r / c:7.1f} {np.abs(xc - xn).max():9.1e}", flush=True)


if __name__ == "__main__":
    main()
