"""Learned vs random codes (seed 004's closing question): every decoder on trained W and random W.

For each (n, m, p): ``--models`` toy models (tied, ReLU, bias, binary features
active w.p. p, MSE; Adam 1e-2 with cosine annealing, 4000 steps of 512) are
trained in one batch; the random codes are W of the same shape with columns
uniform on the sphere. Signals are k-sparse binary (k around the training
sparsity p n and above); each model/random code decodes ``--signals``
signals per k. ``native`` is the trained model's own read-out ReLU(W^T y + b)
(trained codes only; on random codes ``relu_readout`` with b = 0 is the same
read-out without a learned bias).

Trials that share a code are not independent: every rate's 95 % interval is
clustered by code (``csbench.intervals.cluster_interval``: the rate for a new
code drawn like these), the Wilson interval of the pooled trials (conditional
on these codes) is kept beside it, and trained - random differences get a
Welch interval over codes (``cluster_difference_interval``). A verdict
"trained better" / "random better" needs that interval to exclude 0.

Output: ``results/learned_vs_random/`` (default); ``--update-data`` writes the
committed reference ``data/toy/learned_vs_random.*`` instead. Files are written
atomically (temporary file, then rename).

Expected wall time: ~20 min for the defaults (8 models x 25 signals, both sizes)
on the 2-core machine at load ~10 (measured): ~2 min to train 8 models per size,
then 4-10 s per (k, code index) for the nine decoders on both codes.

    python experiments/learned_vs_random.py                 # defaults, writes results/learned_vs_random/
    python experiments/learned_vs_random.py --update-data   # the same, into data/toy/
"""
import argparse
import json
import os
import tempfile

import numpy as np
import pandas as pd
from tqdm import tqdm

import csbench
from csbench.intervals import (
    cluster_difference_interval,
    cluster_interval,
    conditional_interval,
)
from csbench.toy import ToySpec, instance_seeds, train

CONFIGS = [dict(n=40, m=10, p=0.05), dict(n=100, m=20, p=0.02)]
KS = [1, 2, 3, 4, 5, 6, 8]
DECODERS = [
    ("native", {}), ("matched_filter", {}), ("relu_readout", {}), ("lmmse", {"signal": "binary"}),
    ("trained_readout", {"signal": "binary"}), ("lasso", {"positive": True}), ("omp", {"positive": True}),
    ("amp", {"nonneg": True}), ("basis_pursuit", {"nonneg": True}),
]


def codes(cfg, models, root):
    spec = ToySpec(n=cfg["n"], m=cfg["m"], bias=True, values="binary", p=cfg["p"], lr=1e-2, steps=4000, batch=512)
    trained = train(spec, instance_seeds(root, models), progress=True)
    rng = np.random.default_rng(np.random.SeedSequence([root, cfg["n"], cfg["m"], 7]))
    rand = [csbench.ENCODERS.get("unit").func(rng, cfg["m"], cfg["n"]) for _ in range(models)]
    return trained, rand


def run(cfg, models, signals, root, skip):
    trained, rand = codes(cfg, models, root)
    n, m = cfg["n"], cfg["m"]
    rows = []
    pairs = [(k, i) for k in KS if k <= m for i in range(models)]
    for k, i in tqdm(pairs, desc=f"n={n} m={m} (k, code)", unit="pair"):
        rng = np.random.default_rng(np.random.SeedSequence([root, n, m, k, i]))
        X = np.zeros((signals, n))
        for t in range(signals):
            X[t, rng.choice(n, k, replace=False)] = 1.0
        for kind, W, mdl in (("trained", trained[i].encoder_matrix, trained[i]), ("random", rand[i], None)):
            Y = X @ W.T
            for name, params in DECODERS:
                if name in skip or (name == "native" and mdl is None):
                    continue
                if name == "native":
                    params = {"activation": "relu", "bias": mdl.params["b"].astype(float).tolist()}
                res = csbench.decode(name, W, Y, k=k, **params)
                s = csbench.score(X, res.X_hat, binary=True)
                rows.append({"n": n, "m": m, "p": cfg["p"], "code": kind, "decoder": name, "k": k, "model": i,
                             "exact": int(s["exact"].sum()), "trials": signals,
                             "rel_err": float(s["rel_err"].mean())})
    return pd.DataFrame(rows)


def summarise(df):
    """Per (size, code, decoder, k): pooled rate, interval over codes and conditional interval; largest k at
    >= 50 %; trained - random differences with Welch intervals over codes."""
    recs = []
    for key, sub in df.groupby(["n", "m", "p", "code", "decoder", "k"]):
        sub = sub.sort_values("model")
        s, t = sub["exact"].to_numpy(), sub["trials"].to_numpy()
        est, lo, hi = (float(v) for v in cluster_interval(s, t))
        _, clo, chi = (float(v) for v in conditional_interval(s, t))
        recs.append(dict(zip(["n", "m", "p", "code", "decoder", "k"], key), exact=int(s.sum()), trials=int(t.sum()),
                         codes=len(s), rate=est, ci_low=lo, ci_high=hi, cond_low=clo, cond_high=chi,
                         rel_err=float(sub["rel_err"].mean())))
    g = pd.DataFrame(recs)
    best = []
    for key, sub in g.groupby(["n", "m", "code", "decoder"]):
        ok = sub[sub["rate"] >= 0.5]
        sure = sub[sub["ci_low"] >= 0.5]
        best.append(dict(zip(["n", "m", "code", "decoder"], key), largest_k_50=int(ok["k"].max()) if len(ok) else 0,
                         largest_k_50_ci_certain=int(sure["k"].max()) if len(sure) else 0))
    diffs = []
    for (n, m, dec, k), sub in df.groupby(["n", "m", "decoder", "k"]):
        tr, rd = sub[sub.code == "trained"].sort_values("model"), sub[sub.code == "random"].sort_values("model")
        if len(tr) < 2 or len(rd) < 2:
            continue
        d, lo, hi = (float(v) for v in cluster_difference_interval(tr["exact"].to_numpy(), tr["trials"].to_numpy(),
                                                                   rd["exact"].to_numpy(), rd["trials"].to_numpy()))
        verdict = "trained better" if lo > 0 else "random better" if hi < 0 else "within code-to-code noise"
        diffs.append({"n": n, "m": m, "decoder": dec, "k": k, "trained_minus_random": d, "low": lo, "high": hi,
                      "verdict": verdict})
    return g, pd.DataFrame(best), pd.DataFrame(diffs)


def _atomic(path, write):
    """Write via a temporary file in the same folder, then rename (never a half-written file)."""
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp" + os.path.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def figure(g, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfgs = g[["n", "m"]].drop_duplicates().to_numpy()
    fig, axes = plt.subplots(1, len(cfgs), figsize=(5 * len(cfgs), 3.6), squeeze=False)
    for ax, (n, m) in zip(axes[0], cfgs):
        sub = g[(g.n == n) & (g.m == m)]
        for j, dec in enumerate(sub["decoder"].unique()):
            for code, ls in (("trained", "-"), ("random", "--")):
                s = sub[(sub.decoder == dec) & (sub.code == code)]
                if len(s):
                    ax.plot(s["k"], s["rate"], ls, marker="o", ms=3, color=f"C{j}",
                            label=dec if code == "trained" else None)
        ax.set_title(f"n = {n}, m = {m}: trained (solid) vs random (dashed)", fontsize=9)
        ax.set_xlabel("k (binary, k-sparse)")
        ax.set_ylabel("exact recovery rate")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _dump_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=8, help="trained and random codes per size (clusters)")
    ap.add_argument("--signals", type=int, default=25, help="signals per (code, k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], help="decoders to leave out")
    ap.add_argument("--configs", type=int, nargs="*", default=list(range(len(CONFIGS))),
                    help=f"indices into CONFIGS = {CONFIGS}")
    ap.add_argument("--json", help="also write the headline numbers here")
    ap.add_argument("--out", default=os.path.join("results", "learned_vs_random"))
    ap.add_argument("--update-data", action="store_true",
                    help="write the committed reference data/toy/learned_vs_random.* instead of --out")
    a = ap.parse_args()
    out = os.path.join("data", "toy") if a.update_data else a.out
    df = pd.concat([run(CONFIGS[i], a.models, a.signals, a.seed, set(a.skip)) for i in a.configs], ignore_index=True)
    g, best, diffs = summarise(df)
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, "learned_vs_random")
    _atomic(base + ".csv", lambda p: g.to_csv(p, index=False, float_format="%.4g"))
    _atomic(base + "_differences.csv", lambda p: diffs.to_csv(p, index=False, float_format="%.4g"))
    print(best.pivot_table(index=["n", "m", "decoder"], columns="code",
                           values=["largest_k_50", "largest_k_50_ci_certain"]).to_string())
    print("\ntrained - random exact-recovery rate, 95 % Welch interval over codes:")
    print(diffs.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    _atomic(base + ".png", lambda p: figure(g, p))
    res = {"largest_k_50": best.to_dict(orient="records"), "table": g.to_dict(orient="records"),
           "differences": diffs.to_dict(orient="records"), "models": a.models, "signals_per_model": a.signals,
           "intervals": "rate: over codes (Korn-Graubard); cond_*: conditional on these codes (pooled Wilson)"}
    for path in filter(None, [base + ".json", a.json]):
        _atomic(path, lambda p: _dump_json(res, p))
    print(f"wrote {base}.*")


if __name__ == "__main__":
    main()
