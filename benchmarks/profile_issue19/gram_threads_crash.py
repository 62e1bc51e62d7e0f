# ruff: noqa  (profiling scripts, kept as run)
"""Reproducer: numpy's OpenBLAS and ``A.T @ A`` of a wide float64 A with 2 BLAS threads (issue 19, third round).

Each case runs in its own subprocess (a segfault there only ends that child) with
``OPENBLAS_NUM_THREADS`` set before numpy loads, and prints the child's exit code
(-11: SIGSEGV) and, if it finished, whether its G equals the one-thread product.

    python benchmarks/profile_issue19/gram_threads_crash.py             # all cases below
    python benchmarks/profile_issue19/gram_threads_crash.py 16384 2 matmul [m] [dtype]

Cases: ``matmul`` is ``A.T @ A`` (numpy recognises the transposed pair and calls syrk, then copies
the triangle); ``gemm`` is ``A.T @ A.copy()`` (no aliasing: a plain gemm); ``syrk`` is
``scipy.linalg.blas.dsyrk`` (scipy's own OpenBLAS); ``csbench`` is csbench's Gram helper.
"""
import os
import subprocess
import sys
import time

CHILD = r"""
import sys, time, numpy as np
n, how, m, dtype = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
A = rng.standard_normal((m, n)).astype(dtype)
t = time.perf_counter()
if how == "matmul":
    G = A.T @ A
elif how == "gemm":
    G = A.T @ A.copy()
elif how == "syrk":
    from scipy.linalg.blas import dsyrk, ssyrk
    G = (ssyrk if A.dtype == np.float32 else dsyrk)(1.0, A, trans=1, lower=0)
    G = np.triu(G) + np.triu(G, 1).T
elif how == "csbench":
    from csbench.decoders.precision import gram_matrix
    G = gram_matrix(A)
dt = time.perf_counter() - t
j = rng.integers(0, n, 64)
ref = A.T @ A[:, j]
print(f"ok {dt:.2f}s max|G[:, j] - A^T a_j| / max|G| = {np.abs(G[:, j] - ref).max() / np.abs(ref).max():.1e}")
"""


def run(n, threads, how, m=768, dtype="float64"):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, str(n), how, str(m), dtype], env=env, capture_output=True, text=True)
    out = (p.stdout.strip() or p.stderr.strip().splitlines()[-1:] or [""])
    out = out if isinstance(out, str) else out[0]
    print(f"m = {m:4d}  n = {n:6d}  {dtype}  threads = {threads}  {how:8s}  exit {p.returncode:4d}  ({time.perf_counter() - t:.1f} s)  {out}",
          flush=True)
    return p.returncode


if __name__ == "__main__":
    if len(sys.argv) > 1:
        args = sys.argv[1:]
        sys.exit(run(int(args[0]), int(args[1]), args[2], *([int(args[3])] if len(args) > 3 else []), *args[4:5]) != 0)
    for n in (12288, 14336, 15360, 16384):
        run(n, 2, "matmul")
    run(16384, 1, "matmul")
    run(16384, 2, "matmul", m=384)
    run(16384, 2, "matmul", dtype="float32")
    for how in ("gemm", "syrk", "csbench"):
        run(16384, 2, how)
    run(16384, 2, "csbench", dtype="float32")
