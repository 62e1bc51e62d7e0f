"""The dense-superposition headline: the SAE's frontier drawn against the compressed-sensing frontier.

At fixed n (features) and a grid of (m, k): where does exact support recovery
cross 50 % for

(i)   the matched filter on the true W (``W^T h``),
(ii)  the SAE encoder (a TopK SAE trained on samples h = W x of this (m, k)),
(iii) the nonnegative lasso on the SAE's dictionary (W_dec, on h - b_dec),
(iv)  the nonnegative lasso on the true W,

plus OMP (k atoms, nonnegative) on both dictionaries and the matched filter on the
SAE's dictionary. Theory next to them: the matched filter's Chernoff m = 8 k ln n
(:func:`csbench.theory.chernoff_m`), its exact 50 % point at the 1/2 threshold for
binary x on unit-norm Gaussian atoms (:func:`csbench.theory.mf_minimal_m`,
``ensemble="unit"``), the nonnegative l1 weak threshold rho_W (:func:`csbench.theory.m_weak`)
and the counting-type scale k log2(e n / k).

Data: one dictionary W per (seed, m) (unit-norm Gaussian atoms, m x n), k-sparse codes
(uniform k-subset) with ``--amplitude`` values (default binary, seed 003's setting),
noiseless. SAE recipe (a fixed rule, not tuned to the answer): TopK with k_SAE = k
(the true k is known, as it is to OMP and to the top-k rule), d = n latents, Adam
3e-3, ``--steps`` steps of 256 fresh samples, seeds batched. Scoring is that of
:mod:`csbench.sae.routes`: learned latents mapped to features by the Hungarian matching
of W_dec to W; exact recovery at each route's best decision rule (own support
1[z >= 0.01], fitted threshold or top-k), the rule picked on ``--rule-samples``
training samples (indices from 2 x 10^8) and applied to ``--test`` held-out samples
(from 10^8). The success rate at each m has a 95 % interval over dictionaries
(:func:`csbench.intervals.cluster_interval`; a seed's W and SAE are one cluster).
m* is the pointwise 50 % crossing of the success-vs-m curve, linear in ln m between
grid points, with the interval where the upper / lower interval curves cross 50 %
(:func:`csbench.sae.routes.crossing`); with few dictionaries that band is wide, so the band of
the Wilson interval conditional on these dictionaries (:func:`csbench.intervals.conditional_interval`,
pooled samples) is reported too, labelled "given these W"; ``inf``: not reached on the grid, ``-inf``: at or
below its first point.

    python experiments/sae_frontier.py [--n 128] [--k 2 4 8] [--m 12 16 ...] [--seeds 3] [--quick] [--json PATH]
                                       [--update-data]

Writes ``results/sae_frontier/sae_frontier.json`` and ``.png`` (``--update-data``: ``data/sae/``).
"""
import argparse
import math
import time

import numpy as np

from csbench._scriptio import add_output_args, extra_paths, output_dir, save_figure, write_json, wrote
from csbench.fits import scaling_x
from csbench.intervals import cluster_interval, conditional_interval
from csbench.sae import ActivationData, ActivationSpec, SAESpec
from csbench.sae import metrics as M
from csbench.sae import routes as R
from csbench.sae.training import train
from csbench.theory import chernoff_m, m_weak, mf_minimal_m
from csbench.toy.spec import instance_seeds

TEST_START, RULE_START = 10**8, 2 * 10**8
ROUTES = ("lasso+", "omp+", "matched_filter")
#: The four curves of the headline: (dictionary, route) -> label.
HEADLINE = {("true W", "matched_filter"): "(i) matched filter, true W",
            ("SAE", "SAE encoder"): "(ii) SAE encoder",
            ("SAE", "lasso+"): "(iii) lasso+ on the SAE's dictionary",
            ("true W", "lasso+"): "(iv) lasso+ on the true W"}


def dictionary(seed, n, m):
    """Unit-norm Gaussian atoms (m, n), one per (seed, n, m)."""
    W = np.random.default_rng(np.random.SeedSequence([seed, 16_005, n, m])).standard_normal((m, n))
    return W / np.linalg.norm(W, axis=0)


def run_cell(n, m, k, a):
    """Rows (seed x dictionary x route) at one (m, k)."""
    spec = ActivationSpec(n, support="ksparse", k=k, amplitude=a.amplitude)
    datas = [ActivationData(dictionary(s, n, m), spec, seed=s) for s in range(a.seeds)]
    sae = SAESpec(m=m, d=n, kind="topk", k=k, lr=a.lr, steps=a.steps, batch=a.batch)
    models = train(sae, datas, instance_seeds(0, a.seeds), cache=a.cache, progress=False)
    rows = []
    for s, (data, mdl) in enumerate(zip(datas, models)):
        W, D = data.W, mdl.dictionary
        H, X = data.sample(TEST_START, TEST_START + a.test)
        Ht, Xt = data.sample(RULE_START, RULE_START + a.rule_samples)
        cell = {"n": n, "m": m, "k": k, "seed": s}
        rows += R.dictionary_rows(W, H, X, Ht, Xt, k, M.identity_matching(n), routes=ROUTES,
                                  common={**cell, "dictionary": "true W"})
        rows += R.dictionary_rows(D, H, X, Ht, Xt, k, M.match(W, D), routes=ROUTES,
                                  offset=mdl.params["b_dec"].astype(float),
                                  encoder=("SAE encoder", mdl.encode(H), mdl.encode(Ht)),
                                  common={**cell, "dictionary": "SAE", "mmcs": M.mmcs(W, D),
                                          "dead": float(mdl.dead_fraction)})
    return rows


def theory(n, k, amplitude):
    """Theory m values at (n, k)."""
    out = {"8k ln n": float(chernoff_m(n, k)), "k log2(en/k)": float(scaling_x(n, k, "k_log2_en_k")),
           "rho_W (l1, x >= 0)": float(m_weak(n, k, nonneg=True))}
    if amplitude == "binary":
        out["matched filter 50 % (1/2 rule)"] = float(mf_minimal_m(n, k, 0.5, ensemble="unit"))
    return out


def frontier(rows, ms, ks):
    """Per (k, dictionary, route): success curve over m (cluster intervals) and its m* crossing."""
    curves = []
    keys = sorted({(r["dictionary"], r["route"]) for r in rows})
    for k in ks:
        for dic, route in keys:
            pts = []
            for m in ms:
                rs = [r for r in rows if r["k"] == k and r["m"] == m and r["dictionary"] == dic and r["route"] == route]
                if not rs:
                    continue
                succ, tri = [r["exact"] for r in rs], [r["trials"] for r in rs]
                est, lo, hi = cluster_interval(succ, tri)
                _, clo, chi = conditional_interval(succ, tri)
                mcc = float(np.mean([r["mcc"] for r in rs]))
                mmcs = float(np.mean([r["mmcs"] for r in rs])) if "mmcs" in rs[0] else None
                pts.append({"m": m, "success": float(est), "low": float(lo), "high": float(hi),
                            "low_given": float(clo), "high_given": float(chi), "mcc": mcc,
                            "mmcs": mmcs, "dictionaries": len(rs)})
            mm = [p["m"] for p in pts]
            star, s_lo, s_hi = R.crossing(mm, [p["low"] for p in pts], [p["success"] for p in pts],
                                          [p["high"] for p in pts])
            _, g_lo, g_hi = R.crossing(mm, [p["low_given"] for p in pts], [p["success"] for p in pts],
                                       [p["high_given"] for p in pts])
            curves.append({"k": k, "dictionary": dic, "route": route, "label": HEADLINE.get((dic, route)),
                           "points": pts, "m_star": _num(star), "m_star_low": _num(s_lo),
                           "m_star_high": _num(s_hi), "m_star_low_given": _num(g_lo),
                           "m_star_high_given": _num(g_hi)})
    return curves


def _num(v):
    """JSON-safe m*: a number, or "above grid" / "below grid"."""
    if v == math.inf:
        return "above grid"
    if v == -math.inf:
        return "below grid"
    return float(v)


def _plot_value(v, ms):
    if v == "above grid":
        return ms[-1] * 1.25
    if v == "below grid":
        return ms[0] / 1.25
    return v


def figure(doc):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks, ms, n = doc["setting"]["k"], doc["setting"]["m"], doc["setting"]["n"]
    fig, axes = plt.subplots(1, 1 + len(ks), figsize=(4.2 * (1 + len(ks)), 4.2), constrained_layout=True)
    colors = {"(i) matched filter, true W": "tab:red", "(ii) SAE encoder": "tab:orange",
              "(iii) lasso+ on the SAE's dictionary": "tab:purple", "(iv) lasso+ on the true W": "tab:blue"}
    ax = axes[0]
    for label, col in colors.items():
        cs = sorted([c for c in doc["curves"] if c["label"] == label], key=lambda c: c["k"])
        x = [c["k"] for c in cs]
        y = [_plot_value(c["m_star"], ms) for c in cs]
        lo = [_plot_value(c["m_star_low"], ms) for c in cs]
        hi = [_plot_value(c["m_star_high"], ms) for c in cs]
        ax.errorbar(x, y, yerr=[np.maximum(np.subtract(y, lo), 0), np.maximum(np.subtract(hi, y), 0)],
                    marker="o", color=col, label=label, capsize=3)
    kk = np.array(ks, float)
    styles = {"8k ln n": "r--", "k log2(en/k)": "k:", "rho_W (l1, x >= 0)": "b--",
              "matched filter 50 % (1/2 rule)": "r:"}
    for name, st in styles.items():
        vals = [doc["theory"][str(k)].get(name) for k in ks]
        if None not in vals:
            ax.plot(kk, vals, st, lw=1, label=f"theory: {name}")
    ax.axhline(ms[-1] * 1.25, color="0.7", lw=0.8)
    ax.text(ks[0], ms[-1] * 1.3, "above the grid", fontsize=7, color="0.4")
    ax.axhline(ms[0] / 1.25, color="0.7", lw=0.8)
    ax.text(ks[-1], ms[0] / 1.2, "at or below the grid", fontsize=7, color="0.4", ha="right")
    ax.set_yscale("log")
    ax.set_ylim(ms[0] / 1.5, ms[-1] * 2)
    ax.set_xlabel("k (active features)")
    ax.set_ylabel("m* (50 % exact recovery)")
    ax.set_title(f"n = {n}: frontiers")
    ax.legend(fontsize=6.5, loc="lower right")
    for ax, k in zip(axes[1:], ks):
        ax.grid(alpha=0.3)
        for label, col in colors.items():
            c = next((c for c in doc["curves"] if c["label"] == label and c["k"] == k), None)
            if c is None:
                continue
            pts = c["points"]
            x = [p["m"] for p in pts]
            ax.plot(x, [p["success"] for p in pts], "o-", color=col, ms=3, label=label)
            ax.fill_between(x, [p["low"] for p in pts], [p["high"] for p in pts], color=col, alpha=0.15)
        mm = [p["m"] for p in next(c for c in doc["curves"] if c["label"] == "(ii) SAE encoder" and c["k"] == k)
              ["points"]]
        mmcs = [p["mmcs"] for p in next(c for c in doc["curves"] if c["label"] == "(ii) SAE encoder"
                                        and c["k"] == k)["points"]]
        ax.plot(mm, mmcs, "x:", color="0.4", ms=4, label="SAE dictionary MMCS")
        ax.axhline(0.5, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("m (dimensions)")
        ax.set_ylabel("exact support recovery")
        ax.set_title(f"k = {k}")
    axes[1].legend(fontsize=6.5, loc="upper left")
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=128, help="features (SAE latents d = n)")
    ap.add_argument("--k", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--m", type=int, nargs="+", default=[12, 16, 24, 32, 48, 64, 96])
    ap.add_argument("--seeds", type=int, default=3, help="dictionaries (one W and one SAE each) per (m, k)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--amplitude", default="binary", choices=["binary", "uniform", "half_normal"])
    ap.add_argument("--test", type=int, default=300, help="held-out samples per dictionary")
    ap.add_argument("--rule-samples", type=int, default=300, help="training samples for the decision rules")
    ap.add_argument("--quick", action="store_true",
                    help="reduced size for the test suite: n = 32, k in {2, 4}, m in {8, 16, 24}, 2 seeds, "
                         "300 steps, 100 + 100 samples")
    ap.add_argument("--cache", help="SAE cache folder (default: $CSBENCH_SAE_CACHE or results/sae_cache)")
    ap.add_argument("--json", help="extra copy of the JSON output")
    ap.add_argument("--no-progress", action="store_true")
    add_output_args(ap, "sae")
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.k, a.m, a.seeds, a.steps, a.test, a.rule_samples = 32, [2, 4], [8, 16, 24], 2, 300, 100, 100
    bad = [m for m in a.m if not 1 <= m < a.n] + [k for k in a.k if not 1 <= k < min(a.m)]
    if bad or a.seeds < 2:
        raise SystemExit(f"error: need 1 <= m < n={a.n}, 1 <= k < min(m) and seeds >= 2; got m={a.m}, k={a.k}, "
                         f"seeds={a.seeds}")
    ms, ks = sorted(a.m), sorted(a.k)
    extra = extra_paths(a, __file__, a.json)
    out = output_dir(a, __file__)
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    rows, cell_seconds = [], {}
    for k, m in tqdm([(k, m) for k in ks for m in ms], desc="(k, m) cells", disable=a.no_progress):
        t1 = time.perf_counter()
        rows += run_cell(a.n, m, k, a)
        cell_seconds[f"{k},{m}"] = time.perf_counter() - t1
    curves = frontier(rows, ms, ks)
    doc = {"setting": {"n": a.n, "k": ks, "m": ms, "seeds": a.seeds, "steps": a.steps, "batch": a.batch,
                       "lr": a.lr, "amplitude": a.amplitude, "test": a.test, "rule_samples": a.rule_samples,
                       "sae": "TopK, k_SAE = k, d = n", "quick": a.quick, "support_tol": R.SUPPORT_TOL,
                       "m_star": "pointwise 50 % crossing (linear in ln m), interval from the cluster_interval band",
                       "cell_seconds": cell_seconds},
           "theory": {str(k): theory(a.n, k, a.amplitude) for k in ks},
           "curves": curves, "rows": rows}
    doc["seconds"] = time.perf_counter() - t0
    print(f"SAE frontier: n={a.n}, {a.amplitude} amplitudes, {a.seeds} dictionaries per (m, k), TopK SAE "
          f"{a.steps} x {a.batch}; exact recovery at the best rule; m* = 50 % crossing [95 % band crossing]")
    for k in ks:
        th = ", ".join(f"{name} {v:.0f}" for name, v in doc["theory"][str(k)].items())
        print(f"k = {k}: theory {th}")
        for c in curves:
            if c["k"] != k:
                continue
            pts = " ".join(f"{p['success']:.2f}" for p in c["points"])
            ms_ = [f"{v:.0f}" if isinstance(v, float) else v for v in
                   (c["m_star"], c["m_star_low"], c["m_star_high"], c["m_star_low_given"], c["m_star_high_given"])]
            print(f"  {c['dictionary']:<7}{c['route']:<16} m* {ms_[0]:>11} [{ms_[1]}, {ms_[2]}] "
                  f"given these W: [{ms_[3]}, {ms_[4]}]   success {pts}")
        mm = next(c for c in curves if c["k"] == k and c["route"] == "SAE encoder")["points"]
        print("  SAE MMCS by m: " + " ".join(f"{p['m']}:{p['mmcs']:.2f}" for p in mm))
    paths = [write_json(p, doc) for p in [out / "sae_frontier.json", *extra]]
    paths.append(save_figure(figure(doc), out / "sae_frontier.png"))
    print(f"{doc['seconds']:.0f} s wall; " + wrote(paths))
    return doc


if __name__ == "__main__":
    main()
