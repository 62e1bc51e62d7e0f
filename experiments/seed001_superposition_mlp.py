"""Seed 001 ("Mechanistic investigation of a superposition MLP"): every number it reports, measured.

Model: y = W_out ReLU(W_in x), 100 features -> 10 neurons, no biases; data:
feature active w.p. p = 0.02 with value U(-1, 1); target ReLU(x); L4 loss;
Adam 3e-3 with cosine annealing, 1000 batches of 2048 (PyTorch default init).
We train ``--seeds`` instances in one batch and report instance 0 plus the
spread over instances, side by side with the seed's numbers. Per-feature errors
are conditional on the feature being active (Monte Carlo, ``--samples`` inputs);
the naive baseline (10 features exact, 90 zero) is in closed form.

    python experiments/seed001_superposition_mlp.py [--seeds 4] [--samples 1000000] [--json PATH]

Writes seed001.json and seed001_per_feature_mse.png to results/seed001_superposition_mlp/
(``--update-data``: data/toy/, the reference docs/toy_models.md quotes). ``--replot`` redraws
the figure from the stored seed001.json without training. Needs the ``learn`` extra (torch).
"""
import argparse
import json

import numpy as np
from tqdm import tqdm

from csbench._scriptio import (
    add_output_args,
    extra_paths,
    output_dir,
    save_figure,
    write_json,
    wrote,
)
from csbench.toy import ToySpec, instance_seeds, train
from csbench.toy import analysis as an

SPEC = ToySpec(n=100, m=10, family="untied", bias=False, activation="relu", p=0.02, values="signed",
               target="relu", loss="l4", lr=3e-3, steps=1000, batch=2048)
SWEEP_P = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
#: The seed's reported numbers (its sections 2, 3, 5, 6, 8, 10, 11).
SEED = {"naive_mse_active": 0.1496, "trained_mse_active": 0.0745, "trained_mse_active_min": 0.0671,
        "trained_mse_active_max": 0.0808, "trained_mse_active_std": 0.0029, "weff_diag_mean": 0.43,
        "weff_diag_std": 0.01, "gain_positive": 0.43, "response_at_minus1": -0.04, "mean_abs_cos": 0.26,
        "attenuation_mse": 0.0642, "interference_mse": 0.0103, "interference_share": 0.14,
        "naive_l4_active": 0.1494, "trained_l4_active": 0.0743, "l4_ratio_naive_over_trained": 8.5,
        "mse_ratio_naive_over_trained": 2.0, "l2_trained_mse_ratio": 2.7}


def measure(model, rng, samples):
    W_in, W_out = (model.params[k].astype(float) for k in ("W_in", "W_out"))
    mse = an.per_feature_error(model, rng, samples, q=2)
    l4 = an.per_feature_error(model, rng, samples, q=4)
    g = an.gains(model)
    st = an.weff_stats(W_in, W_out)
    att = an.attenuation_error(model, q=2)
    tot = float(mse["active"].mean())
    return {
        "trained_mse_active": tot,
        "trained_mse_active_min": float(mse["active"].min()),
        "trained_mse_active_max": float(mse["active"].max()),
        "trained_mse_active_std": float(mse["active"].std()),
        "trained_mse_active_se_per_feature": float(np.median(mse["active_se"])),
        "trained_mse_unconditional": float(mse["unconditional"].mean()),
        "weff_diag_mean": st["diag_mean"], "weff_diag_std": st["diag_std"],
        "weff_offdiag_abs_mean": st["offdiag_abs_mean"], "weff_offdiag_max_abs": st["offdiag_max_abs"],
        "gain_positive": float(g["g_plus"].mean()), "gain_positive_std": float(g["g_plus"].std()),
        "gain_negative": float(g["g_minus"].mean()), "response_at_minus1": float(g["r_minus1"].mean()),
        "mean_abs_cos": an.mean_abs_cos(W_in),
        "attenuation_mse": float(att.mean()), "interference_mse": tot - float(att.mean()),
        "interference_share": (tot - float(att.mean())) / tot,
        "attenuated_relu_theory_mse": float(np.mean((1 - g["g_plus"]) ** 2) / 6),
        "trained_l4_active": float(l4["active"].mean()),
        "per_feature_mse_active": mse["active"].tolist(),
    }


WALL_TIME = ("Wall time with the defaults: 70 s on the loaded 2-core reference machine with an empty toy-model "
             "cache (trained models are cached in results/toy_cache); --replot: seconds.")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=WALL_TIME)
    ap.add_argument("--seeds", type=int, default=4, help="instances trained in one batch (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    ap.add_argument("--samples", type=int, default=1_000_000, help="Monte Carlo inputs per measurement (default 10^6)")
    ap.add_argument("--json", help="also write the headline numbers here")
    ap.add_argument("--replot", action="store_true", help="redraw the figure from the output directory's seed001.json")
    add_output_args(ap, "toy")
    a = ap.parse_args(argv)
    out = output_dir(a, __file__)
    extra = extra_paths(a, __file__, a.json)  # checked before any work
    if a.replot:
        src = out / "seed001.json"
        if not src.exists():
            raise SystemExit(f"--replot: {src} does not exist; run without --replot first")
        print(wrote([figure(json.loads(src.read_text()), out / "seed001_per_feature_mse.png")]))
        return
    seeds = instance_seeds(a.seed, a.seeds)
    models = train(SPEC, seeds, progress=True)
    l2_models = train(SPEC.replace(loss="mse"), seeds, progress=True)  # the seed's L2 comparison
    rng = np.random.default_rng(np.random.SeedSequence([a.seed, 1]))
    per = [measure(m, rng, a.samples) for m in tqdm(models, desc="measure instances", unit="model")]
    res = {k: v for k, v in per[0].items()}
    res["naive_mse_active"] = an.naive_baseline(SPEC, q=2)["mean_active"]
    res["naive_l4_active"] = an.naive_baseline(SPEC, q=4)["mean_active"]
    res["naive_mse_active_per_feature"] = an.naive_baseline(SPEC, q=2)["active"].tolist()
    res["l4_ratio_naive_over_trained"] = res["naive_l4_active"] / res["trained_l4_active"]
    res["mse_ratio_naive_over_trained"] = res["naive_mse_active"] / res["trained_mse_active"]
    l2 = measure(l2_models[0], rng, a.samples)
    res["l2_trained_mse_active"] = l2["trained_mse_active"]
    res["l2_trained_gain_positive"] = l2["gain_positive"]
    res["l2_trained_mse_ratio"] = res["naive_mse_active"] / l2["trained_mse_active"]
    res["sparsity_sweep"] = {str(p): float(an.per_feature_error(models[0], rng, a.samples // 4, q=2, p=p)
                                           ["active"].mean()) for p in tqdm(SWEEP_P, desc="sparsity sweep")}
    res["sparsity_sweep_monotone"] = bool(np.all(np.diff(list(res["sparsity_sweep"].values())) > 0))
    keys = ["trained_mse_active", "trained_mse_active_std", "weff_diag_mean", "gain_positive", "gain_negative",
            "interference_share", "trained_l4_active"]
    res["across_seeds"] = {k: {"mean": float(np.mean([p[k] for p in per])), "std": float(np.std([p[k] for p in per])),
                               "all": [p[k] for p in per]} for k in keys}
    res["final_train_loss"] = [m.loss for m in models]
    res["seed_reported"] = SEED
    print(f"{'quantity':<34}{'measured':>12}{'seed 001':>10}   (instance 0; spread over {a.seeds} seeds)")
    for k, v in SEED.items():
        extra = ""
        if k in res["across_seeds"]:
            s = res["across_seeds"][k]
            extra = f"   {s['mean']:.4f} ± {s['std']:.4f}"
        print(f"{k:<34}{res[k]:>12.4f}{v:>10.4f}{extra}")
    print("sparsity sweep (trained MSE_active by test p):",
          {p: round(v, 4) for p, v in res["sparsity_sweep"].items()}, "monotone:", res["sparsity_sweep_monotone"])
    paths = [write_json(p, res) for p in [out / "seed001.json", *extra]]
    print(wrote([*paths, figure(res, out / "seed001_per_feature_mse.png")]))


def figure(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    tr = np.sort(res["per_feature_mse_active"])
    ax1.bar(range(len(tr)), tr, width=1.0, color="C0", label="trained")
    ax1.plot(np.sort(res["naive_mse_active_per_feature"]), "C3", drawstyle="steps-mid", label="naive (closed form)")
    ax1.set_xlabel("feature (sorted)")
    ax1.set_ylabel("MSE | feature active")
    ax1.set_ylim(0, 1.35 * max(tr.max(), np.max(res["naive_mse_active_per_feature"])))  # room above the bars
    ax1.legend(fontsize=8, loc="upper left", ncol=2, frameon=False)
    ps = [float(p) for p in res["sparsity_sweep"]]
    ax2.semilogx(ps, list(res["sparsity_sweep"].values()), "o-")
    ax2.axvline(0.02, color="gray", ls=":")
    ax2.set_xlabel("test p (trained at 0.02)")
    ax2.set_ylabel("MSE | active")
    fig.suptitle("seed 001: 100 -> 10 ReLU MLP, L4, p = 0.02", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


if __name__ == "__main__":
    main()
