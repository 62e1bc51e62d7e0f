"""``csbench compile`` (csbench.precompile): after it, first calls load every kernel from numba's cache."""
import os
import subprocess
import sys

from csbench.precompile import TASKS



ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: First calls a user makes, none of which is a precompile task verbatim: other sizes, options and entry points.
USER_CALLS = r"""
import numpy as np
from numba.core import event
import csbench

compiled = []
class Count(event.Listener):
    def on_start(self, ev):
        d = ev.data.get("dispatcher")
        compiled.append(getattr(getattr(d, "py_func", None), "__qualname__", str(d)))
    def on_end(self, ev):
        pass
event.register("numba:compile", Count())

rng = np.random.default_rng(5)
m, n, k, T = 30, 90, 4, 3
A = rng.standard_normal((T, m, n)) / np.sqrt(m)
X = np.zeros((T, n)); X[:, :k] = 1.0
Y = np.einsum("tmn,tn->tm", A, X)
Ys = X @ A[0].T
for a, y in ((A, Y), (A[0], Ys)):
    csbench.decode("lasso", a, y, k=k, lam_ratio=1e-4)
    csbench.decode("lasso", a, y, k=k, positive=True, lam=0.01)
    csbench.decode("omp", a, y, k=k, tol=1e-12)
    csbench.decode("omp", a, y, k=k, positive=True)
    csbench.decode("amp", a, y, k=k)
    csbench.decode("amp", a, y, k=k, denoiser="bayes_binary")
    csbench.decode("matched_filter", a, y, k=k)
    csbench.decode("relu_readout", a, y, k=k)
csbench.decode("lasso", A[0], Ys, k=k, gram=True)
for enc in ("gaussian", "rademacher"):
    meas, _ = csbench.make_problem(csbench.Cell(encoder=enc, n=n, k=k), m, T, seed=1, memory_budget=1)
    for name in ("matched_filter", "amp", "omp", "lasso"):
        csbench.decode(name, meas.A, meas.Y, k=k)
csbench.minimal_m("matched_filter", encoder="rademacher", n=128, k=3, trials=3, progress=False)
csbench.minimal_m("matched_filter", encoder="antipodal", n=128, k=3, trials=3, progress=False)
print("COMPILED", sorted(set(compiled)))
"""


def test_precompile_leaves_nothing_to_compile_for_first_calls():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "csbench", "compile", "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["task", "seconds", "cpu_seconds", "compiled"]
    assert len(lines) == 2 + len(TASKS) and "numba compilations in" in lines[-1]
    run = subprocess.run([sys.executable, "-c", USER_CALLS], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "COMPILED []"
