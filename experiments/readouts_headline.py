"""Linear read-outs at each decision rule: n = 256, m = 64, k = 4 (binary x, Gaussian A).

Read-outs: the matched filter (scores A^T y), the linear MMSE map (``lmmse``,
raw), the trained linear+ReLU read-out (``trained_readout``, ReLU(E y + c)).
Decision rules (``csbench.decision``): fixed threshold 1/2, a threshold fitted
per matrix on 2000 training signals from their own seed stream
(``decision.training_signals``, never the evaluation signals), and top-k (k
known). "best rule" is chosen per matrix on the *training* signals
(``decision.select_rule``) and then evaluated. Matrices: trial 0 of the cell
with seeds 100, 101, ...; each shared by its evaluation signals, so every
interval is clustered by matrix (``csbench.intervals.cluster_interval``, over
matrices); the conditional Wilson interval (given these matrices) is printed
beside it.

Expected wall time: ~8 s per matrix at light load, ~25 s at load ~10 on the
2-core machine (the trained read-out's fit dominates): 3-8 min for the default
20 matrices (measured 485 s at load ~10). Writes
results/readouts_headline/readouts_headline.json (atomically).

    python experiments/readouts_headline.py            # 20 matrices x 200 signals (docs/decoders.md)
    python experiments/readouts_headline.py --matrices 5 --signals 100   # quick look
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from csbench import Cell, decode, make_problem, theory
from csbench.decision import (
    RULES,
    apply_rule,
    exact_recovery,
    fit_threshold,
    select_rule,
    training_signals,
)
from csbench.intervals import cluster_interval, conditional_interval

READOUTS = ("matched_filter", "lmmse", "trained_readout")


def scores(readout, A, Y, k):
    """Raw scores of a read-out (rows of Y). trained_readout fits E, c once for all rows."""
    if readout == "matched_filter":
        return Y @ A
    if readout == "lmmse":
        return decode("lmmse", A, Y, k=k, rule="raw").X_hat
    return decode("trained_readout", A, Y, k=k).X_hat  # ReLU(E y + c); same thresholds > 0 and top-k


def run(n, m, k, matrices, signals, n_train, seed0, train_seed):
    per = {r: {rule: np.zeros(matrices, int) for rule in (*RULES, "best")} for r in READOUTS}
    chosen = {r: [] for r in READOUTS}
    thresholds = {r: [] for r in READOUTS}
    sq = {r: [] for r in READOUTS}
    X_tr, _ = training_signals("binary", n, k, n_train, seed=train_seed)
    for g in tqdm(range(matrices), desc="matrices", unit="matrix"):
        meas, truth = make_problem(Cell("gaussian", "binary", n, k), m, signals, seed=seed0 + g)
        A = meas.A[0]  # one matrix per seed, shared by its signals
        X = truth.X
        Y = X @ A.T
        Y_tr = X_tr @ A.T
        for r in READOUTS:
            S_all = scores(r, A, np.vstack([Y_tr, Y]), k)  # row by row: training rows never touch the others
            S_tr, S = S_all[:n_train], S_all[n_train:]
            t_fit = fit_threshold(S_tr, X_tr)
            thresholds[r].append(t_fit)
            for rule in RULES:
                per[r][rule][g] = exact_recovery(apply_rule(S, rule, k, t_fit if rule == "fitted" else 0.5), X).sum()
            best, _, _ = select_rule(S_tr, X_tr, k=k)
            chosen[r].append(best)
            per[r]["best"][g] = per[r][best][g]
            sq[r].append(((S - X) ** 2).sum(1))
    return per, chosen, thresholds, sq


def _write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " Expected wall time: 3-8 min for "
                                 "the default 20 matrices (~8 s per matrix at light load, ~25 s at load ~10).")
    ap.add_argument("--matrices", type=int, default=20, help="matrices (clusters), default 20")
    ap.add_argument("--signals", type=int, default=200, help="evaluation signals per matrix, default 200")
    ap.add_argument("--n-train", type=int, default=2000, help="training signals for the fitted threshold")
    ap.add_argument("--json", default="results/readouts_headline/readouts_headline.json")
    args = ap.parse_args()
    n, m, k = 256, 64, 4
    t0 = time.perf_counter()
    per, chosen, thresholds, sq = run(n, m, k, args.matrices, args.signals, args.n_train, 100, 0)
    out = {"n": n, "m": m, "k": k, "matrices": args.matrices, "signals": args.signals, "n_train": args.n_train,
           "wall_s": time.perf_counter() - t0, "readouts": {}}
    T = np.full(args.matrices, args.signals)
    print(f"n = {n}, m = {m}, k = {k}: {args.matrices} matrices x {args.signals} signals; exact recovery, "
          "95 % intervals clustered by matrix [conditional on these matrices]")
    for r in READOUTS:
        rows = {}
        for rule in (*RULES, "best"):
            s = per[r][rule]
            est, lo, hi = (float(v) for v in cluster_interval(s, T))
            _, clo, chi = (float(v) for v in conditional_interval(s, T))
            rows[rule] = {"successes": s.tolist(), "rate": est, "cluster": [lo, hi], "conditional": [clo, chi]}
            print(f"  {r:16s} {rule:9s} {est:6.3f} [{lo:.3f}, {hi:.3f}]  [{clo:.3f}, {chi:.3f}]")
        counts = {rule: chosen[r].count(rule) for rule in RULES}
        e = np.concatenate(sq[r])
        print(f"  {r:16s} best rule chosen on training signals: {counts}; fitted thresholds "
              f"{np.min(thresholds[r]):.3f}..{np.max(thresholds[r]):.3f}; squared error of the scores "
              f"{e.mean():.3f} +- {e.std() / np.sqrt(e.size):.3f}")
        out["readouts"][r] = {"rules": rows, "best_rule_counts": counts, "thresholds": thresholds[r],
                              "squared_error": float(e.mean())}
    p = float(theory.mf_success_probability(n, k, m))
    print(f"matched filter at 1/2, theory: P = {p:.4f}; wall {out['wall_s']:.0f} s")
    out["mf_theory_threshold_half"] = p
    _write_json(args.json, out)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
