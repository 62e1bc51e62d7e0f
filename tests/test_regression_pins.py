"""Seeded regression pins: restructuring must leave every result bit-identical.

Each case computes a seeded result through the public API (problems of every encoder,
every decoder on dense and operator inputs, minimal-m and maximal-k searches, a grid
sweep) and reduces it to a SHA-256 of its arrays' bytes. The digests in
``tests/data/regression_pins.json`` were written by the code before the "one shape"
restructuring (issue 14) and are only rewritten on purpose:
``CSBENCH_UPDATE_PINS=1 python -m pytest tests/test_regression_pins.py``.
"""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import csbench
from csbench import Cell, decode, make_problem

PINS = Path(__file__).parent / "data" / "regression_pins.json"


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _problem(encoder, signal="binary", n=64, k=3, m=24, trials=3, seed=7, noise=0.0, **ep):
    meas, truth = make_problem(Cell(encoder, signal, n, k, noise, ep), m, trials, seed=seed)
    return meas, truth


def case_problems():
    out = {}
    for enc, ep in [("gaussian", {}), ("rademacher", {}), ("dct", {}), ("unit", {}), ("antipodal", {}),
                    ("sparse", {"d": 4})]:
        for sig in ("binary", "signed", "gaussian", "bernoulli", "uniform"):
            meas, truth = _problem(enc, sig, noise=0.01 if sig == "gaussian" else 0.0, **ep)
            out[f"{enc}/{sig}"] = digest(meas.A, meas.Y, truth.X)
    return out


DECODER_CASES = [
    ("matched_filter", {}), ("matched_filter", {"rule": "topk"}), ("matched_filter", {"rule": "raw"}),
    ("relu_readout", {}), ("relu_readout", {"bias": "edmonds"}),
    ("lasso", {}), ("lasso", {"lam_ratio": 1e-2, "positive": True}), ("lasso", {"gram": False}),
    ("omp", {}), ("omp", {"positive": True}), ("omp", {"tol": 1e-12}), ("omp", {"n_nonzero_coefs": 30}),
    ("amp", {}), ("amp", {"denoiser": "bayes_binary"}), ("amp", {"damping": 0.3}),
    ("basis_pursuit", {}), ("basis_pursuit", {"nonneg": True}),
    ("lmmse", {}), ("trained_readout", {"n_samples": 512, "max_iter": 20}),
]


def case_decoders():
    out = {}
    meas, truth = _problem("gaussian", n=64, k=3, m=24, trials=4)
    shared = np.ascontiguousarray(meas.A[0])
    Ys = truth.X @ shared.T
    for name, params in DECODER_CASES:
        label = f"{name}{json.dumps(params, sort_keys=True)}"
        r = decode(name, meas.A, meas.Y, k=3, **params)
        out[label + "/batch"] = digest(r.X_hat, r.n_iter, r.status)
        r = decode(name, shared, Ys, k=3, **params)
        out[label + "/shared"] = digest(r.X_hat, r.n_iter, r.status)
    return out


def case_operators():
    from csbench.operators import DenseOperator

    out = {}
    meas, truth = _problem("gaussian", n=64, k=3, m=24, trials=3)
    ops = [DenseOperator(np.ascontiguousarray(a)) for a in meas.A]
    for name, params in [("matched_filter", {}), ("relu_readout", {}), ("amp", {}), ("omp", {}),
                         ("omp", {"positive": True}), ("lasso", {})]:
        r = decode(name, ops, meas.Y, k=3, **params)
        out[f"{name}{json.dumps(params, sort_keys=True)}"] = digest(r.X_hat, r.n_iter, r.status)
    meas, truth = make_problem(Cell("gaussian", "binary", 256, 4), 60, 2, seed=3, memory_budget=1000)
    for name in ("amp", "omp", "lasso"):
        r = decode(name, list(meas.A), meas.Y, k=4)
        out[f"generated/{name}"] = digest(r.X_hat, r.n_iter, r.status)
    return out


def _mm(r):
    return digest(r.critical, [r.m_star, r.ci_low, r.ci_high, r.n_censored, r.n_evaluations])


def case_searches():
    out = {}
    for dec, kw in [("matched_filter", {}), ("lasso", {}), ("omp", {}), ("amp", {}),
                    ("lasso", {"encoder": "rademacher"}), ("omp", {"signal": "signed"}),
                    ("matched_filter", {"encoder": "unit"})]:
        r = csbench.minimal_m(dec, n=96, k=3, trials=6, seed=11, n_jobs=1, **kw)
        out[f"minimal_m/{dec}{json.dumps(kw, sort_keys=True)}"] = _mm(r)
    for dec in ("matched_filter", "lasso", "omp"):
        r = csbench.maximal_k(dec, n=96, m=40, trials=6, seed=5, n_jobs=1)
        out[f"maximal_k/{dec}"] = digest(r.critical, [r.k_star, r.ci_low, r.ci_high])
    return out


def case_sweep(tmp_path):
    sweep = csbench.Sweep.from_dict({
        "name": "pins", "encoder": "gaussian", "signal": "binary", "n": 64, "k": [2, 4],
        "m": [16, 32], "trials": 5, "seed": 2,
        "decoders": ["matched_filter", "lasso", {"name": "omp"}],
    })
    csbench.run_sweep(sweep, tmp_path / "run", progress=False)
    df = csbench.load_results(tmp_path / "run").sort_values(["decoder", "k", "m", "trial"])
    return {"sweep": digest(df["exact"].to_numpy(float), df["rel_err"].to_numpy(float),
                            df["n_iter"].to_numpy(float))}


def compute_all(tmp_path):
    pins = {}
    pins.update(case_problems())
    pins.update({f"decode/{k}": v for k, v in case_decoders().items()})
    pins.update({f"operator/{k}": v for k, v in case_operators().items()})
    pins.update(case_searches())
    pins.update(case_sweep(tmp_path))
    return pins


def test_regression_pins(tmp_path):
    got = compute_all(tmp_path)
    if os.environ.get("CSBENCH_UPDATE_PINS") == "1":
        PINS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.skip("pins rewritten")
    want = json.loads(PINS.read_text())
    assert sorted(got) == sorted(want)
    changed = [k for k in want if got[k] != want[k]]
    assert not changed, f"results changed: {changed}"
