"""The amortisation gap: an SAE's encoder against per-sample sparse inference, with the dictionary known and learned.

**Headline (default): the 2 x 2 table.** Known-dictionary setting of issue 16
(after O'Neill, Gumran & Klindt, ICML 2025): n = 16 features in m = 8
dimensions, k = 3 active per sample (a uniform 3-subset), amplitudes |N(0, 1)|,
unit-norm Gaussian atoms (one dictionary W per seed), noiseless h = W x. Per
seed: SAEs with d = n latents trained on fresh samples (L1 SAEs at each
coefficient of ``--l1``, a TopK SAE with k = 3) and dictionary learning
(scikit-learn, nonnegative codes). On the same ``--test`` held-out samples
(indices from 10^8) the codes are read, on the true W and on every learned D, by

* the amortised encoder: the SAE's own (on D); with W known, a ReLU encoder
  ``ReLU(E h + c)`` fitted with its decoder fixed to W
  (:func:`csbench.sae.routes.fitted_encoder_codes`, ``--fit-samples`` samples);
* csbench's per-sample decoders through ``decode``: nonnegative lasso
  (lam_ratio 1e-3), nonnegative OMP (k atoms), nonnegative AMP (soft, minimax
  threshold), nonnegative basis pursuit;
* the linear read-outs: the matched filter D^T h and its top-k.

On a learned D the routes decode h - b_dec and the learned latents are mapped to
true features by the Hungarian matching of D to W. Every route is scored by
latent MCC and by exact support recovery *at its best decision rule* (own
support 1[z >= 0.01], a fitted threshold, or top-k), the rule picked on
``--rule-samples`` training samples (indices from 2 x 10^8) and applied to the test
samples (:mod:`csbench.sae.routes`). Intervals are over dictionaries (one W and
one SAE run per seed are a cluster): exact recovery by
:func:`csbench.intervals.cluster_interval`, MCC by a t interval over the
per-dictionary values.

**``--grid``: the amortisation grid.** Features n in {16, 32, 64, 128},
dimensions m in {8, 16, 32} with m < n (superposition), active k in
{3, 6, 10, 15} with k < m: 28 cells. Per cell and seed one TopK SAE (k_SAE = k,
d = n latents, Adam 3e-3, ``--grid-steps`` steps of 256 fresh samples; a fixed
recipe, not tuned per cell) and the same routes and scoring as the headline (no
L1 SAEs, no dictionary learning, no fitted encoder).

    python experiments/amortisation_gap.py [--seeds 8] [--steps 8000] [--quick] [--json PATH] [--update-data]
    python experiments/amortisation_gap.py --grid [--grid-seeds 3] [--grid-steps 3000] [--update-data]

Writes ``results/amortisation_gap/amortisation_gap.json`` (``--grid``: ``amortisation_grid.json`` and
``.png``); ``--update-data`` writes them under ``data/sae/``.
"""
import argparse
import time

import numpy as np

from csbench._scriptio import add_output_args, extra_paths, output_dir, save_figure, write_json, wrote
from csbench.sae import ActivationData, ActivationSpec, SAESpec
from csbench.sae import metrics as M
from csbench.sae import routes as R
from csbench.sae.dictlearn import learn_dictionary
from csbench.sae.training import train
from csbench.toy.spec import instance_seeds

N, MDIM, K = 16, 8, 3
TEST_START, RULE_START, FIT_START = 10**8, 2 * 10**8, 3 * 10**8
GRID_N, GRID_M, GRID_K = (16, 32, 64, 128), (8, 16, 32), (3, 6, 10, 15)


def dictionary(seed, n=N, m=MDIM):
    """Unit-norm Gaussian atoms (m, n), one dictionary per (seed, n, m)."""
    W = np.random.default_rng(np.random.SeedSequence([seed, 16_008, n, m])).standard_normal((m, n))
    return W / np.linalg.norm(W, axis=0)


def grid_cells(ns=GRID_N, ms=GRID_M, ks=GRID_K):
    """The grid's (n, m, k) cells: m < n (features in superposition) and k < m."""
    return [(n, m, k) for n in ns for m in ms if m < n for k in ks if k < m]


def run_cell(n, m, k, seeds, sae_specs, test, rule_samples, cache, *, progress=True, fit_samples=0,
             dl=None):
    """Rows (one per seed x dictionary x route) of one (n, m, k) setting.

    ``sae_specs``: name -> SAESpec (d latents on m dimensions); ``fit_samples`` > 0 adds the
    fitted encoder with W known; ``dl`` = dict(samples, epochs, alpha) adds dictionary learning.
    """
    spec = ActivationSpec(n, support="ksparse", k=k, amplitude="half_normal")
    datas = [ActivationData(dictionary(s, n, m), spec, seed=s) for s in range(seeds)]
    inits = instance_seeds(0, seeds)
    names = list(sae_specs)
    models = train([sae_specs[nm] for nm in names for _ in range(seeds)], datas * len(names), inits * len(names),
                   cache=cache, progress=progress)
    saes = {nm: models[j * seeds:(j + 1) * seeds] for j, nm in enumerate(names)}
    cell = {"n": n, "m": m, "k": k}
    rows = []
    for s, data in enumerate(datas):
        W = data.W
        H, X = data.sample(TEST_START, TEST_START + test)
        Ht, Xt = data.sample(RULE_START, RULE_START + rule_samples)
        enc = None
        if fit_samples:
            Xf = data.sample(FIT_START, FIT_START + fit_samples)[1]
            Z, conv = R.fitted_encoder_codes(W, Xf, H)
            enc = ("encoder (fitted, W fixed)", Z, R.fitted_encoder_codes(W, Xf, Ht)[0])
        rows += R.dictionary_rows(W, H, X, Ht, Xt, k, M.identity_matching(n), encoder=enc,
                                  common={**cell, "seed": s, "dictionary": "true W"})
        for nm, mdls in saes.items():
            mdl = mdls[s]
            D = mdl.dictionary
            common = {**cell, "seed": s, "dictionary": nm, "mmcs": M.mmcs(W, D), "dead": float(mdl.dead_fraction)}
            rows += R.dictionary_rows(D, H, X, Ht, Xt, k, M.match(W, D), offset=mdl.params["b_dec"].astype(float),
                                      encoder=("SAE encoder", mdl.encode(H), mdl.encode(Ht)), common=common)
        if dl:
            learned = learn_dictionary(data.sample(0, dl["samples"])[0], n, alpha=dl["alpha"], seed=s,
                                       max_iter=dl["epochs"], tol=0.0, max_no_improvement=None, positive_code=True)
            D = learned.dictionary
            common = {**cell, "seed": s, "dictionary": f"dict. learning (alpha={dl['alpha']:g})", "mmcs": M.mmcs(W, D)}
            rows += R.dictionary_rows(D, H, X, Ht, Xt, k, M.match(W, D), common=common)
    return rows


def fmt(v):
    return f"{v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]" if v else ""


def headline(a):
    """The 2 x 2 table at (16, 8, 3)."""
    specs = {f"L1 SAE (l1={lam:g})": SAESpec(m=MDIM, d=N, kind="l1", l1=lam, lr=3e-3, steps=a.steps, batch=a.batch)
             for lam in a.l1}
    specs[f"TopK SAE (k={K})"] = SAESpec(m=MDIM, d=N, kind="topk", k=K, lr=3e-3, steps=a.steps, batch=a.batch)
    dl = {"samples": a.dl_samples, "epochs": a.dl_epochs, "alpha": a.dl_alpha} if a.dl_epochs else None
    rows = run_cell(N, MDIM, K, a.seeds, specs, a.test, a.rule_samples, a.cache, progress=not a.no_progress,
                    fit_samples=a.fit_samples, dl=dl)
    summary = R.summarise(rows, ("dictionary", "route"))
    print(f"2 x 2 table: n={N}, m={MDIM}, k={K}, |N(0,1)| amplitudes, {a.seeds} dictionaries, "
          f"{a.steps} steps x {a.batch}, {a.test} test samples each; 95 % intervals over dictionaries")
    print(f"{'dictionary':<26}{'route':<27}{'latent MCC':>24}{'exact (best rule)':>24}  {'rules':<18}"
          f"{'own support':>24}{'MMCS':>24}{'ok':>6}")
    for e in summary:
        rules = ",".join(f"{r}:{c}" for r, c in sorted(e["rules"].items()))
        print(f"{e['dictionary']:<26}{e['route']:<27}{fmt(e['mcc']):>24}{fmt(e['exact']):>24}  {rules:<18}"
              f"{fmt(e['own']):>24}{fmt(e.get('mmcs')):>24}{e['ok']['mean']:>6.2f}")
    setting = {"n": N, "m": MDIM, "k": K, "amplitude": "half_normal", "atoms": "unit-norm Gaussian",
               "seeds": a.seeds, "steps": a.steps, "batch": a.batch, "l1": a.l1, "test": a.test,
               "rule_samples": a.rule_samples, "fit_samples": a.fit_samples, "support_tol": R.SUPPORT_TOL,
               "quick": a.quick, "dl_samples": a.dl_samples, "dl_epochs": a.dl_epochs, "dl_alpha": a.dl_alpha,
               "intervals": "exact: cluster_interval over dictionaries; mcc/mmcs: t over dictionaries"}
    return {"setting": setting, "summary": summary, "rows": rows}


def grid(a):
    """The amortisation grid over (n, m, k)."""
    from tqdm.auto import tqdm

    cells = grid_cells() if not a.quick else [(16, 8, 3), (32, 16, 3)]
    rows = []
    t_cell = {}
    for n, m, k in tqdm(cells, desc="grid cells", disable=a.no_progress):
        t0 = time.perf_counter()
        spec = {f"TopK SAE (k={k})": SAESpec(m=m, d=n, kind="topk", k=k, lr=3e-3, steps=a.grid_steps,
                                            batch=a.batch)}
        rows += run_cell(n, m, k, a.grid_seeds, spec, a.grid_test, a.grid_rule_samples, a.cache, progress=False)
        t_cell[f"{n},{m},{k}"] = time.perf_counter() - t0
    for r in rows:
        r["dictionary"] = "true W" if r["dictionary"] == "true W" else "SAE"
    summary = R.summarise(rows, ("n", "m", "k", "dictionary", "route"))
    table = grid_table(summary)
    print(f"amortisation grid: {len(cells)} cells, {a.grid_seeds} dictionaries each, TopK SAE (k_SAE = k, d = n) "
          f"{a.grid_steps} steps x {a.batch}, {a.grid_test} test samples; latent MCC (mean over dictionaries)")
    print(f"{'n':>4}{'m':>4}{'k':>4}{'MMCS':>7}{'SAE enc':>9}{'best on D':>11}{'lasso D':>9}{'lasso W':>9}"
          f"{'best W':>8}{'MF W':>7}{'exact: enc':>11}{'lasso D':>9}{'lasso W':>9}")
    for t in table:
        print(f"{t['n']:>4}{t['m']:>4}{t['k']:>4}{t['mmcs']:>7.3f}{t['mcc_sae_encoder']:>9.3f}"
              f"{t['mcc_best_on_sae']:>11.3f}{t['mcc_lasso_sae']:>9.3f}{t['mcc_lasso_true']:>9.3f}"
              f"{t['mcc_best_on_true']:>8.3f}{t['mcc_mf_true']:>7.3f}{t['exact_sae_encoder']:>11.3f}"
              f"{t['exact_lasso_sae']:>9.3f}{t['exact_lasso_true']:>9.3f}")
    setting = {"cells": cells, "rule": "m < n, k < m", "amplitude": "half_normal", "atoms": "unit-norm Gaussian",
               "sae": "TopK, k_SAE = k, d = n, Adam 3e-3", "steps": a.grid_steps, "batch": a.batch,
               "seeds": a.grid_seeds, "test": a.grid_test, "rule_samples": a.grid_rule_samples, "quick": a.quick,
               "cell_seconds": t_cell}
    return {"setting": setting, "table": table, "summary": summary, "rows": rows}


def grid_table(summary):
    """Per cell: the MCC / exact recovery of the headline routes (means over dictionaries)."""
    cells = {}
    for e in summary:
        cells.setdefault((e["n"], e["m"], e["k"]), {})[(e["dictionary"], e["route"])] = e
    out = []
    for (n, m, k), c in cells.items():
        sae = {r: e for (d, r), e in c.items() if d == "SAE"}
        true = {r: e for (d, r), e in c.items() if d == "true W"}
        best_sae = max(R.ROUTES, key=lambda r: sae[r]["mcc"]["mean"])  # decoders and read-outs; max of means
        best_true = max(R.ROUTES, key=lambda r: true[r]["mcc"]["mean"])
        out.append({"n": n, "m": m, "k": k, "mmcs": sae["SAE encoder"]["mmcs"]["mean"],
                    "mcc_sae_encoder": sae["SAE encoder"]["mcc"]["mean"],
                    "mcc_best_on_sae": sae[best_sae]["mcc"]["mean"], "best_on_sae": best_sae,
                    "mcc_lasso_sae": sae["lasso+"]["mcc"]["mean"], "mcc_lasso_true": true["lasso+"]["mcc"]["mean"],
                    "mcc_best_on_true": true[best_true]["mcc"]["mean"], "best_on_true": best_true,
                    "mcc_mf_true": true["matched_filter"]["mcc"]["mean"],
                    "exact_sae_encoder": sae["SAE encoder"]["exact"]["mean"],
                    "exact_lasso_sae": sae["lasso+"]["exact"]["mean"],
                    "exact_lasso_true": true["lasso+"]["exact"]["mean"]})
    return out


def grid_figure(table):
    """Two panels: the amortisation gap (SAE encoder vs the best csbench route on its D) and the
    dictionary gap (SAE encoder vs lasso on the true W), one point per cell, coloured by k/m."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    x = np.array([t["mcc_sae_encoder"] for t in table])
    c = np.array([t["k"] / t["m"] for t in table])
    size = np.array([12 + 0.5 * t["n"] for t in table])
    for ax, key, label in ((axes[0], "mcc_best_on_sae", "best csbench route on the SAE's dictionary"),
                           (axes[1], "mcc_lasso_true", "lasso+ on the true W")):
        y = np.array([t[key] for t in table])
        sc = ax.scatter(x, y, c=c, s=size, cmap="viridis", vmin=0, vmax=1, edgecolors="k", linewidths=0.4)
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("latent MCC, SAE encoder (TopK)")
        ax.set_ylabel(f"latent MCC, {label}")
    axes[0].set_title("amortisation gap (same learned dictionary)")
    axes[1].set_title("dictionary gap (true dictionary)")
    fig.colorbar(sc, ax=axes, label="k / m (marker size ~ n)")
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8, help="dictionaries (one SAE per dictionary and recipe)")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--l1", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    ap.add_argument("--test", type=int, default=2000, help="held-out samples per dictionary")
    ap.add_argument("--rule-samples", type=int, default=1000, help="training samples for the decision rules")
    ap.add_argument("--fit-samples", type=int, default=16384,
                    help="samples for the encoder fitted with W known (0: skip it)")
    ap.add_argument("--dl-samples", type=int, default=20_000, help="dictionary-learning training samples")
    ap.add_argument("--dl-epochs", type=int, default=10, help="dictionary-learning epochs (0: skip it)")
    ap.add_argument("--dl-alpha", type=float, default=0.1, help="dictionary-learning L1 weight")
    ap.add_argument("--grid", action="store_true", help="run the (n, m, k) grid instead of the 2 x 2 table")
    ap.add_argument("--grid-seeds", type=int, default=3)
    ap.add_argument("--grid-steps", type=int, default=3000)
    ap.add_argument("--grid-test", type=int, default=500)
    ap.add_argument("--grid-rule-samples", type=int, default=500)
    ap.add_argument("--quick", action="store_true",
                    help="reduced size (3 seeds, 600 steps, 300 test samples, 1 L1 coefficient, dictionary "
                         "learning 1 epoch of 3000; --grid: 2 cells, 2 seeds, 400 steps, 200 samples)")
    ap.add_argument("--cache", help="SAE cache folder (default: $CSBENCH_SAE_CACHE or results/sae_cache)")
    ap.add_argument("--json", help="extra copy of the JSON output")
    ap.add_argument("--no-progress", action="store_true")
    add_output_args(ap, "sae")
    a = ap.parse_args(argv)
    if a.quick:
        a.seeds, a.steps, a.test, a.rule_samples, a.l1 = 3, 600, 300, 300, a.l1[:1]
        a.dl_samples, a.dl_epochs, a.fit_samples = 3000, 1, 2048
        a.grid_seeds, a.grid_steps, a.grid_test, a.grid_rule_samples = 2, 400, 200, 200
    extra = extra_paths(a, __file__, a.json)
    out = output_dir(a, __file__)
    t0 = time.perf_counter()
    doc = grid(a) if a.grid else headline(a)
    doc["seconds"] = time.perf_counter() - t0
    stem = "amortisation_grid" if a.grid else "amortisation_gap"
    paths = [write_json(p, doc) for p in [out / f"{stem}.json", *extra]]
    if a.grid:
        paths.append(save_figure(grid_figure(doc["table"]), out / f"{stem}.png"))
    print(f"{doc['seconds']:.0f} s wall; " + wrote(paths))
    return doc


if __name__ == "__main__":
    main()
