"""Start-up stays light (lazy imports) and the fast basis-pursuit path equals linprog's (issue 10, item 14).

Times are measured by benchmarks/bench_startup.py, not here; these tests check the causes."""
import subprocess
import sys

import numpy as np
import pytest

import csbench
import csbench.decoders.basis_pursuit as bp
from csbench import decode

HEAVY = ["numba", "scipy", "pandas", "matplotlib", "torch", "distributed"]
PROBE = "import sys; {stmt}; print('HEAVY:' + ' '.join(m for m in {heavy!r} if m in sys.modules))"


@pytest.mark.parametrize("stmt", ["import csbench",
                                  "from csbench.cli import main; main(['list'])",
                                  "from csbench.cli import build_parser; build_parser()"])
def test_light_entry_points_import_nothing_heavy(stmt):
    r = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy=HEAVY)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "HEAVY:", r.stdout  # none of HEAVY was imported


def test_every_public_name_resolves():
    for name in csbench.__all__:
        assert getattr(csbench, name) is not None, name
    assert csbench.decode is csbench.decoders.decode
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        csbench.nope


@pytest.mark.parametrize("m, n, k, nonneg", [(30, 200, 5, False), (60, 200, 8, True), (12, 100, 9, False),
                                             (6, 50, 9, True)])
def test_highs_bindings_equal_linprog(monkeypatch, m, n, k, nonneg):
    rng = np.random.default_rng(m)
    A = rng.standard_normal((3, m, n)) / np.sqrt(m)
    X = np.zeros((3, n))
    for t in range(3):
        X[t, rng.choice(n, k, replace=False)] = rng.random(k) + 0.5 if nonneg else rng.standard_normal(k)
    Y = np.einsum("tmn,tn->tm", A, X)
    assert bp._highs_core() is not None  # this SciPy ships the bindings: the fast path is the one tested
    fast = decode("basis_pursuit", A, Y, nonneg=nonneg)
    monkeypatch.setattr(bp, "_highs_core", lambda: None)
    slow = decode("basis_pursuit", A, Y, nonneg=nonneg)
    np.testing.assert_array_equal(fast.X_hat, slow.X_hat)
    np.testing.assert_array_equal(fast.n_iter, slow.n_iter)
    np.testing.assert_array_equal(fast.status, slow.status)
    ok = fast.status == 0
    assert ok.any()
    # every solved LP is feasible: A x_hat = y to 1e-9
    res = np.abs(np.einsum("tmn,tn->tm", A, fast.X_hat) - Y)[ok]
    assert res.max() < 1e-9


def test_lazy_module_loads_once_under_threads():
    """The first attribute access of a lazy kernel module from many threads imports it once, fully."""
    import sys
    import threading

    from csbench._lazy import lazy_module

    name = "csbench.kernels.lattice"
    saved = sys.modules.pop(name, None)
    try:
        mod = lazy_module(name)
        assert "not loaded" in repr(mod)
        seen, errors = [], []

        def touch():
            try:
                seen.append(mod.on_lattice)
            except Exception as exc:  # a half-executed module raises AttributeError here
                errors.append(exc)

        threads = [threading.Thread(target=touch) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(seen) == 8 and all(f is seen[0] for f in seen)
        assert sys.modules[name].on_lattice is seen[0] and "loaded" in repr(mod)
    finally:
        if saved is not None:
            sys.modules[name] = saved
