"""Experiment helpers that run decoders (moved out of ``csbench.theory``, which is a leaf)."""
import ast
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_theory_is_a_leaf():
    """csbench.theory imports nothing from the rest of csbench but the argument checks."""
    for path in (ROOT / "csbench" / "theory").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.module == "_validate", (path.name, node.module)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("csbench"), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("csbench") for a in node.names), path.name


def test_measure_antipodal_pair_collisions():
    # m >> n k: interference is negligible, so antipodal errors come from pairs with both
    # features active: E #pairs = (n/2) k (k-1) / (n (n-1)), each costs 2 -> k (k-1)/(n-1)
    n, k, m = 16, 4, 8000
    res = _script("seed004_random_superposition").measure_antipodal(n, k, m, trials=150, seed=1)
    expected = k * (k - 1) / (n - 1)
    assert abs(res["antipodal"]["sq_err"] - expected) <= 4 * res["antipodal"]["sq_err_se"] + 0.01
    assert res["unit"]["sq_err"] < 0.01 and res["unit"]["exact"] == 1.0
    assert res["pair_cost"] == pytest.approx(2 * (k / n) ** 2) and res["halving_saving"] == pytest.approx(4 * k / m)
    with pytest.raises(ValueError, match="even"):
        _script("seed004_random_superposition").measure_antipodal(15, 2, 10)
