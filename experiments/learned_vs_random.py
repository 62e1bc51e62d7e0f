"""Learned vs random codes (seed 004's closing question): every decoder on trained W and random W.

For each (n, m, p): ``--models`` toy models (tied, ReLU, bias, binary features
active w.p. p, MSE; Adam 1e-2 with cosine annealing, 4000 steps of 512) are
trained in one batch; the random codes are W of the same shape with columns
uniform on the sphere. Signals are k-sparse binary (k around the training
sparsity p n and above); each model/random code decodes ``--signals``
signals per k. Reported per (code, decoder, k): exact-recovery rate with a
95 % Wilson interval and the mean relative error; per (code, decoder): the
largest k with success >= 50 %. ``native`` is the trained model's own read-out
ReLU(W^T y + b) (trained codes only; on random codes ``relu_readout`` with
b = 0 is the same read-out without a learned bias).

    python experiments/learned_vs_random.py [--models 4] [--signals 25] [--json PATH]
"""
import argparse
import json
import os

import numpy as np
import pandas as pd

import csbench
from csbench.metrics import wilson_interval
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
    for k in KS:
        if k > m:
            continue
        for i in range(models):
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
    g = df.groupby(["n", "m", "p", "code", "decoder", "k"], as_index=False).agg(
        exact=("exact", "sum"), trials=("trials", "sum"), rel_err=("rel_err", "mean"))
    lo, hi = wilson_interval(g["exact"].to_numpy(), g["trials"].to_numpy())
    g["rate"], g["ci_low"], g["ci_high"] = g["exact"] / g["trials"], lo, hi
    best = []
    for key, sub in g.groupby(["n", "m", "code", "decoder"]):
        ok = sub[sub["rate"] >= 0.5]
        best.append(dict(zip(["n", "m", "code", "decoder"], key), largest_k_50=int(ok["k"].max()) if len(ok) else 0,
                         largest_k_50_ci_certain=int(ok[ok["ci_low"] >= 0.5]["k"].max()) if (ok["ci_low"] >= 0.5).any()
                         else 0))
    return g, pd.DataFrame(best)


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--signals", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], help="decoders to leave out")
    ap.add_argument("--configs", type=int, nargs="*", default=list(range(len(CONFIGS))),
                    help=f"indices into CONFIGS = {CONFIGS}")
    ap.add_argument("--json", help="write the headline numbers here")
    ap.add_argument("--out", default=os.path.join("data", "toy"))
    a = ap.parse_args()
    df = pd.concat([run(CONFIGS[i], a.models, a.signals, a.seed, set(a.skip)) for i in a.configs], ignore_index=True)
    g, best = summarise(df)
    os.makedirs(a.out, exist_ok=True)
    g.to_csv(os.path.join(a.out, "learned_vs_random.csv"), index=False, float_format="%.4g")
    print(best.pivot_table(index=["n", "m", "decoder"], columns="code", values="largest_k_50").to_string())
    figure(g, os.path.join(a.out, "learned_vs_random.png"))
    res = {"largest_k_50": best.to_dict(orient="records"), "table": g.to_dict(orient="records"),
           "models": a.models, "signals_per_model": a.signals}
    for path in filter(None, [os.path.join(a.out, "learned_vs_random.json"), a.json]):
        with open(path, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
