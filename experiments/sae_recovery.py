"""Feature recovery by SAEs and dictionary learning in the toy setting of the early SAE work.

Setting (Sharkey, Braun & Millidge 2022, *Taking features out of superposition
with sparse autoencoders*): n true features, unit-norm Gaussian atoms in m
dimensions, feature i active with probability p_i = p0 r^i, amplitudes U(0, 1),
noiseless h = W x. Their full size is m = 256, n = 512, p0 = 5/512, r = 0.99
(``--full``, :data:`PROFILES` ``"full"``); the default is a reduced size with the
same decay profile over the index range (m = 32, n = 64, p0 = 5/64, r = 0.99^8,
so p_i / p0 at the last feature is the same).

Budget rule: every SAE of a run sees the same number N = steps x batch of fresh
samples, whatever its size and coefficient (reduced: 6000 x 512; full: 2000 x 256
= 512 000, chosen so the full grid fits about half an hour of one CPU core;
one seed at full size). Dictionary learning, ~100x costlier per sample, gets its
own fixed budget (reduced: 50 000 samples x 5 epochs; full: 10 000 x 2).
``--ratios`` may be split over parallel processes and the complete JSON files
joined with ``--merge``.

Grid: dictionary size d = ratio x n for each ``--ratios``, and for L1 SAEs the
L1 coefficient over ``--l1`` (a log grid); TopK SAEs with k = ``--topk``
(about the mean L0, sum p_i); scikit-learn's MiniBatchDictionaryLearning
(alpha = ``--alpha``) as the non-amortised reference. All SAEs of one (kind, d)
train in one batched model; ``--seeds`` initialisation seeds each, on the same
dictionary W and data. Reported per configuration: MMCS, fraction of true
features recovered at |cos| >= 0.9 and 0.99, dictionary MCC, dead latents,
final MSE and L0, mean and range over seeds.

    python experiments/sae_recovery.py [--quick] [--full] [--out DIR] [--json PATH] [--update-data]

Writes ``sae_recovery.json`` (``--full``: ``sae_recovery_full.json``) and a figure beside it to
``results/sae_recovery/`` (``--out DIR``; ``--update-data``: ``data/sae/``), a copy of the JSON to
``--json PATH`` (refused under ``data/`` without ``--update-data``); the JSON is rewritten atomically
after every group of rows, so an interrupted run keeps the rows it finished. ``--replot JSON``
redraws a figure.
"""
import argparse
import json
import os
import time

import numpy as np

from csbench._scriptio import add_output_args, extra_paths, output_dir, replot, save_figure, write_json, wrote
from csbench.sae import ActivationData, ActivationSpec, SAESpec
from csbench.sae import metrics as M
from csbench.sae.dictlearn import learn_dictionary
from csbench.sae.training import train
from csbench.toy.spec import instance_seeds


def setting(m, n, seed):
    """The true dictionary (unit-norm Gaussian atoms) and the Sharkey et al. code distribution at (m, n)."""
    W = np.random.default_rng(np.random.SeedSequence([seed, m, n])).standard_normal((m, n))
    W /= np.linalg.norm(W, axis=0)
    spec = ActivationSpec(n, p=5 / n, frequency="geometric", decay=0.99 ** (512 / n), amplitude="uniform")
    return ActivationData(W, spec, seed=seed)


def summarise_models(W, models, extra):
    reps = [M.dictionary_report(W, mdl.dictionary) for mdl in models]
    out = dict(extra)
    for key in ("mmcs", "recovered_0.9", "recovered_0.99", "mcc"):
        v = np.array([r[key] for r in reps])
        out[key] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
    out["dead"] = float(np.mean([mdl.dead_fraction for mdl in models]))
    out["mse"] = float(np.mean([mdl.history["mse"][-100:].mean() for mdl in models]))
    out["l0"] = float(np.mean([mdl.history["l0"][-100:].mean() for mdl in models]))
    return out


def convergence(models):
    """Relative change of the mean training MSE between the last 10 % of steps and the 10 % before them."""
    out = []
    for mdl in models:
        mse = np.asarray(mdl.history["mse"], np.float64)
        w = max(1, len(mse) // 10)
        prev, last = mse[-2 * w:-w].mean(), mse[-w:].mean()
        out.append((last - prev) / prev if prev > 0 else 0.0)
    return float(np.mean(out))


def run(a, progress=True, on_row=None):
    """All rows: SAEs for every ratio first, then dictionary learning (the slowest part) for every ratio.

    ``on_row(rows)`` is called after each group of rows (to write partial results).
    """
    data = setting(a.m, a.n, a.seed)
    W = data.W
    inits = instance_seeds(a.seed, a.seeds)
    rows = []
    for ratio in a.ratios if not getattr(a, "no_sae", False) else []:
        d = round(ratio * a.n)
        t0 = time.perf_counter()
        base = SAESpec(m=a.m, d=d, kind="l1", lr=a.lr, steps=a.steps, batch=a.batch)
        specs = [base.replace(l1=lam) for lam in a.l1 for _ in range(a.seeds)]
        models = train(specs, data, inits * len(a.l1), cache=a.cache, progress=progress)
        sec = (time.perf_counter() - t0) / max(1, len(a.l1))
        for j, lam in enumerate(a.l1):
            group = models[j * a.seeds:(j + 1) * a.seeds]
            rows.append(summarise_models(W, group, {"learner": "L1 SAE", "ratio": ratio, "d": d, "l1": lam,
                                                    "mse_change_last_10pc": convergence(group), "seconds": sec}))
        t0 = time.perf_counter()
        topk = train(SAESpec(m=a.m, d=d, kind="topk", k=a.topk, lr=a.lr, steps=a.steps, batch=a.batch), data,
                     inits, cache=a.cache, progress=progress)
        rows.append(summarise_models(W, topk, {"learner": "TopK SAE", "ratio": ratio, "d": d, "k": a.topk,
                                               "mse_change_last_10pc": convergence(topk),
                                               "seconds": time.perf_counter() - t0}))
        if on_row:
            on_row(rows)
    H = data.sample(0, a.dl_samples)[0] if a.dl_samples > 0 else None
    for ratio in a.ratios if H is not None else []:
        d = round(ratio * a.n)
        t0 = time.perf_counter()
        dls = [learn_dictionary(H, d, alpha=a.alpha, seed=s, max_iter=a.dl_epochs, positive_code=True)
               for s in range(a.seeds)]
        reps = [M.dictionary_report(W, r.dictionary) for r in dls]
        row = {"learner": "dictionary learning", "ratio": ratio, "d": d, "alpha": a.alpha,
               "seconds": time.perf_counter() - t0}
        for key in ("mmcs", "recovered_0.9", "recovered_0.99", "mcc"):
            v = np.array([r[key] for r in reps])
            row[key] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        rows.append(row)
        if on_row:
            on_row(rows)
    return rows


def plot(doc, path):
    """MMCS and fraction recovered (|cos| >= 0.9) against the L1 coefficient, one line per dictionary size;
    TopK SAEs and dictionary learning as markers at the right edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, st = doc["rows"], doc["setting"]
    ratios = sorted({r["ratio"] for r in rows})
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(ratios)))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key, label in zip(axes, ("mmcs", "recovered_0.9", "recovered_0.99"),
                              ("MMCS", "fraction recovered, |cos| >= 0.9", "fraction recovered, |cos| >= 0.99")):
        lams = sorted({r["l1"] for r in rows if r["learner"] == "L1 SAE"})
        right = max(lams) * 4 if lams else 1.0
        for c, ratio in zip(colors, ratios):
            l1 = sorted((r for r in rows if r["learner"] == "L1 SAE" and r["ratio"] == ratio), key=lambda r: r["l1"])
            if l1:
                x = [r["l1"] for r in l1]
                y = [r[key]["mean"] for r in l1]
                err = [[r[key]["mean"] - r[key]["min"] for r in l1], [r[key]["max"] - r[key]["mean"] for r in l1]]
                ax.errorbar(x, y, yerr=err, color=c, marker="o", ms=4, capsize=2,
                            label=f"L1 SAE, d = {ratio:g} n")
            else:
                ax.plot([], [], "s", color=c, label=f"d = {ratio:g} n (no L1 SAE)")
            for learner, mk, dx in (("TopK SAE", "s", 1.0), ("dictionary learning", "^", 1.4)):
                r = next((r for r in rows if r["learner"] == learner and r["ratio"] == ratio), None)
                if r is not None:
                    ax.plot([right * dx], [r[key]["mean"]], mk, color=c, ms=7, mfc="none" if mk == "^" else c)
        ax.plot([], [], "ks", label=f"TopK SAE (k = {st['topk']})")
        ax.plot([], [], "k^", mfc="none", label=f"dictionary learning (alpha = {st['alpha']:g})")
        ax.set_xscale("log")
        ax.set_xlabel("L1 coefficient (TopK, DL: markers at right)")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"SAE feature recovery, m = {st['m']}, n = {st['n']} true features, p_i = (5/n) r^i, "
                 f"{st['steps']} steps x {st['batch']} samples per SAE, {st['seeds']} seed(s)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


PROFILES = {
    # the reduced size (default): same decay profile over the index range; hours of CPU -> ~20 min
    "reduced": dict(m=32, n=64, l1=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0], seeds=3, steps=6000, batch=512,
                    dl_samples=50_000, dl_epochs=5),
    # the full size of Sharkey et al.: every SAE sees the same N = steps x batch = 512 000 fresh samples
    # (chosen so the whole grid fits about half an hour of one CPU core); one seed; dictionary learning on
    # 10 000 samples x 2 epochs (its per-sample cost is ~100x an SAE step's at d = 2048)
    "full": dict(m=256, n=512, l1=[3e-2, 1e-1, 3e-1, 1.0], seeds=1, steps=2000, batch=256,
                 dl_samples=10_000, dl_epochs=2),
    "quick": dict(m=32, n=64, ratios=[1, 2], l1=[3e-3, 3e-2], seeds=2, steps=400, batch=256, dl_samples=4000,
                  dl_epochs=2),
}


BANDS = 4


def band_recovery(a, setting_doc, rows):
    """Per frequency band (features 0..n/4-1, ..., the rarest quarter): fraction of true features recovered at
    |cos| >= 0.9 by each cached SAE (read from the cache only, never trained here), with the expected number of
    occurrences N p_i of the band's rarest feature in the SAE's N = steps x batch training samples."""
    from csbench.sae import load_sae
    from csbench.sae.training import cache_dir, instance_key

    st = setting_doc
    data = setting(st["m"], st["n"], st["seed"])
    W, p = data.W, data.spec.frequencies()
    edges = np.linspace(0, st["n"], BANDS + 1).astype(int)
    N = st["steps"] * st["batch"]
    bands = [{"features": [int(lo), int(hi - 1)], "occurrences_of_rarest": float(N * p[hi - 1])}
             for lo, hi in zip(edges[:-1], edges[1:])]
    inits = instance_seeds(st["seed"], st["seeds"])
    for r in rows:
        if r["learner"] == "dictionary learning":
            continue
        spec = SAESpec(m=st["m"], d=r["d"], kind="l1" if r["learner"] == "L1 SAE" else "topk",
                       l1=r.get("l1", 0.0), k=r.get("k", 0), lr=st["lr"], steps=st["steps"], batch=st["batch"])
        paths = [os.path.join(cache_dir(a.cache), instance_key(spec, data, s) + ".safetensors") for s in inits]
        if not all(os.path.isfile(q) for q in paths):
            continue
        ok = np.array([M.cosine_matrix(W, load_sae(q).dictionary).max(1) >= 0.9 for q in paths])  # (seeds, n)
        r["recovered_0.9_by_band"] = [float(ok[:, lo:hi].mean()) for lo, hi in zip(edges[:-1], edges[1:])]
    return bands


def merge(a, profile):
    """One document from runs that differ only in their ratios (rows sorted by learner order and ratio)."""
    docs = []
    for p in a.merge:
        with open(p) as f:
            docs.append(json.load(f))
    drop = ("ratios", "update_data", "merge", "no_sae", "profile", "l1", "dl_samples")  # rows carry their own
    base = {k: v for k, v in docs[0]["setting"].items() if k not in drop}
    for dc, p in zip(docs, a.merge):
        other = {k: v for k, v in dc["setting"].items() if k not in drop}
        if other != base:
            raise ValueError(f"{p}: a different setting; allowed: runs differing only in --ratios and --no-sae.")
    order = {"L1 SAE": 0, "TopK SAE": 1, "dictionary learning": 2}
    rows = sorted((r for dc in docs for r in dc["rows"]), key=lambda r: (order[r["learner"]] == 2, r["ratio"],
                                                                         order[r["learner"]], r.get("l1", 0)))
    setting = {**base, "ratios": sorted({r["ratio"] for r in rows}), "merged_from": [dc["setting"]["ratios"]
                                                                                      for dc in docs]}
    bands = band_recovery(a, setting, rows)
    doc = {"setting": setting, "rows": rows, "frequency_bands": bands,
           "complete": [bool(dc.get("complete")) for dc in docs],
           "seconds": sum(dc["seconds"] for dc in docs),
           "wall_seconds_per_run": [dc["seconds"] for dc in docs]}
    paths = [write_json(p, doc) for p in output_paths(a, profile)]
    plot(doc, paths[0].with_suffix(".png"))
    print(f"from {len(docs)} runs: " + wrote([*paths, paths[0].with_suffix(".png")]))
    return doc


def output_paths(a, profile):
    """Where the JSON goes: the output folder (:func:`csbench._scriptio.output_dir`), then any ``--json``."""
    name = "sae_recovery_full.json" if profile == "full" else "sae_recovery.json"
    return [output_dir(a, __file__, "sae") / name, *extra_paths(a, __file__, a.json)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int)
    ap.add_argument("--n", type=int)
    ap.add_argument("--ratios", type=float, nargs="+")
    ap.add_argument("--l1", type=float, nargs="*")
    ap.add_argument("--topk", type=int, default=1)
    ap.add_argument("--alpha", type=float, default=0.05, help="dictionary-learning L1 weight")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--seed", type=int, default=0, help="dictionary and data seed")
    ap.add_argument("--dl-samples", type=int, help="dictionary-learning training samples (0: skip it)")
    ap.add_argument("--dl-epochs", type=int)
    ap.add_argument("--no-sae", action="store_true", help="dictionary learning only")
    ap.add_argument("--quick", action="store_true", help="2 ratios, 2 L1 coefficients, 2 seeds, 400 steps")
    ap.add_argument("--full", action="store_true", help="the full size m=256, n=512 (PROFILES['full'])")
    ap.add_argument("--replot", metavar="JSON", help="only redraw the figure of a written JSON file")
    ap.add_argument("--merge", metavar="JSON", nargs="+",
                    help="merge the rows of runs that differ only in --ratios (e.g. run in parallel) into the output")
    ap.add_argument("--cache")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--no-progress", action="store_true")
    add_output_args(ap, "sae")
    a = ap.parse_args(argv)
    if a.replot:
        return replot(a.replot, plot)
    profile = "quick" if a.quick else "full" if a.full else "reduced"
    paths = output_paths(a, profile)  # refuses a --json under data/ before any work
    if a.merge:
        return merge(a, profile)
    for key, value in {"ratios": [0.5, 1, 2, 4], **PROFILES[profile]}.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    t0 = time.perf_counter()
    setting_doc = {k: v for k, v in vars(a).items()
                   if k not in ("json", "cache", "no_progress", "replot", "out", "update_data", "_data_subdir")}
    setting_doc["profile"] = profile

    def write(rows, final=False):
        doc = {"setting": setting_doc, "rows": rows, "complete": final, "seconds": time.perf_counter() - t0}
        for p in paths:
            write_json(p, doc)
        return doc

    rows = run(a, progress=not a.no_progress, on_row=write)
    doc = write(rows, final=True)
    spec = setting(a.m, a.n, a.seed).spec
    print(f"SAE recovery: m={a.m}, n={a.n}, p_i = {spec.p:.4g} * {spec.decay:.4g}^i (E L0 = {spec.expected_l0():.2f}), "
          f"U(0,1) amplitudes; {a.steps} steps x {a.batch}; mean [min, max] over {a.seeds} seeds")
    print(f"{'learner':<21}{'d':>6}{'param':>10}{'MMCS':>24}{'rec>=0.9':>10}{'rec>=0.99':>10}{'dead':>7}{'L0':>7}"
          f"{'dMSE':>8}")
    for r in rows:
        par = r.get("l1", r.get("k", r.get("alpha")))
        mm = r["mmcs"]
        print(f"{r['learner']:<21}{r['d']:>6}{par:>10g}{mm['mean']:>8.3f} [{mm['min']:.3f}, {mm['max']:.3f}]"
              f"{r['recovered_0.9']['mean']:>10.3f}{r['recovered_0.99']['mean']:>10.3f}"
              f"{r.get('dead', float('nan')):>7.2f}{r.get('l0', float('nan')):>7.2f}"
              f"{r.get('mse_change_last_10pc', float('nan')):>8.3f}")
    figures = [] if a.quick else [paths[0].with_suffix(".png")]
    for f in figures:
        plot(doc, f)
    print(f"{doc['seconds']:.0f} s; " + wrote([*paths, *figures]))
    return doc


if __name__ == "__main__":
    main()
