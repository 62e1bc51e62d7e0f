"""Seed 002 ("Superposition and bottlenecks"): 1-sparse binary features, tied, no bias, n in m = 2.

1. n = 5, m = 2, ReLU and GELU: the learned directions (figure), their angle
   gaps and norms, the loss (summed over the identity data set, the seed's
   normalisation), how many of the seeds form a regular pentagon, how fast the
   loss falls, and the optimum of the closed-form loss found by direct
   minimisation.
2. The circle loss: the seed's formula, the derived one (with optimal norm and
   the unlearned features), the direct optimum and trained models for n = 5..10.

    python experiments/seed002_bottleneck.py [--seeds 8] [--json PATH]

Recipe: Adam lr 1e-2, cosine annealing, 3000 full-batch steps, PyTorch default init.
Writes seed002.json and seed002_directions.png to results/seed002_bottleneck/
(``--update-data``: data/toy/, the reference docs/toy_models.md quotes). Needs the
``learn`` extra (torch).
"""
import argparse

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
from csbench.toy import ToySpec, fit, instance_seeds, train
from csbench.toy import analysis as an
from csbench.toy.theory import (
    circle_loss,
    circle_loss_seed,
    minimise_one_sparse_loss,
    one_sparse_loss,
)

RECIPE = dict(m=2, bias=False, data="identity", lr=1e-2, steps=3000)


def is_pentagon(W):
    g = an.angles_2d(W)
    nr = g["norms"]
    return bool(len(g["angle_gaps_deg"]) == 5 and np.abs(g["angle_gaps_deg"] - 72).max() < 1
                and nr.max() / nr.min() - 1 < 0.01)


def n5(seeds, root):
    out = {}
    for act in tqdm(("relu", "gelu"), desc="n = 5, m = 2"):
        spec = ToySpec(n=5, activation=act, **RECIPE)
        models = fit([spec] * seeds, instance_seeds(root, seeds), record_every=10, progress=False)
        W = models[0].params["W"].astype(float)
        g = an.angles_2d(W)
        Wopt, Lopt, _ = minimise_one_sparse_loss(5, 2, act, restarts=20, seed=root)
        losses = np.array([one_sparse_loss(m.params["W"].astype(float), act) for m in models])
        # steps until the loss is within 1 % of its final value (instance 0 .. seeds-1)
        hist = np.stack([m.history * 25 for m in models])
        reach = [int(10 * np.argmax(h <= 1.01 * L)) for h, L in zip(hist, losses)]
        out[act] = {
            "norms": [float(v) for v in g["norms"]],
            "angle_gaps_deg": [float(v) for v in g["angle_gaps_deg"]],
            "loss": float(losses[0]),
            "directions": g["directions"],
            "pentagon_fraction": float(np.mean([is_pentagon(m.params["W"].astype(float)) for m in models])),
            "loss_all_seeds": [float(v) for v in losses],
            "steps_to_1pct_of_final": reach,
            "optimum_loss": Lopt,
            "optimum_norms": [float(v) for v in an.feature_norms(Wopt)],
            "optimum_angle_gaps_deg": [float(v) for v in an.angles_2d(Wopt)["angle_gaps_deg"]],
            "W": W.tolist(),
        }
    return out


def circle_table(seeds, root):
    rows = []
    for n in tqdm(range(5, 11), desc="circle loss, n = 5..10"):
        spec = ToySpec(n=n, activation="relu", **RECIPE)
        models = train(spec, instance_seeds(root, seeds), progress=False)
        Ls = np.array([one_sparse_loss(m.params["W"].astype(float)) for m in models])
        dirs = [an.angles_2d(m.params["W"].astype(float), min_norm=0.5)["directions"] for m in models]
        best = int(np.argmin(Ls))
        _, Lopt, _ = minimise_one_sparse_loss(n, 2, "relu", restarts=20, seed=root)
        d_star = min(range(1, n + 1), key=lambda d: circle_loss(d, n))
        rows.append({"n": n, "trained_loss_best": float(Ls[best]), "trained_loss_median": float(np.median(Ls)),
                     "trained_directions_best": dirs[best], "trained_directions_all": dirs,
                     "direct_optimum_loss": Lopt, "derived_best_d": d_star,
                     "derived_loss": circle_loss(d_star, n), "unit_norm_pentagon_loss": circle_loss(5, n, radius=1),
                     "seed_formula_by_d": {d: circle_loss_seed(d) for d in range(1, n + 1)},
                     "seed_formula_argmin_d": min(range(1, n + 1), key=circle_loss_seed)})
    return rows


def figure(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for ax, act in zip(axes, ("relu", "gelu")):
        W = np.array(res[act]["W"])
        for i in range(W.shape[1]):
            ax.annotate("", xy=W[:, i], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{i}"))
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), ":", color="gray", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.set_title(f"{act}: |W_i| = {np.mean(res[act]['norms']):.3f}, L = {res[act]['loss']:.4f}", fontsize=9)
    fig.suptitle("seed 002: n = 5 one-hot features in m = 2 (tied, no bias)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


WALL_TIME = ("Wall time with the defaults: 10 s on the loaded 2-core reference machine "
             "(the n = 5..10 models are cached in results/toy_cache).")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=WALL_TIME)
    ap.add_argument("--seeds", type=int, default=8, help="instances per configuration (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    ap.add_argument("--json", help="also write the headline numbers here")
    add_output_args(ap, "toy")
    a = ap.parse_args(argv)
    out = output_dir(a, __file__)
    extra = extra_paths(a, __file__, a.json)  # checked before any work
    res = n5(a.seeds, a.seed)
    for act in ("relu", "gelu"):
        r = res[act]
        print(f"{act}: norms {np.round(r['norms'], 4)}, gaps {np.round(r['angle_gaps_deg'], 2)}, L = {r['loss']:.5f}"
              f" (direct optimum {r['optimum_loss']:.5f}, norms {np.mean(r['optimum_norms']):.4f});"
              f" pentagon in {r['pentagon_fraction']:.0%} of {a.seeds} seeds;"
              f" steps to 1% of final loss: median {np.median(r['steps_to_1pct_of_final']):.0f}")
    res["circle"] = circle_table(a.seeds, a.seed)
    print(f"\n{'n':>3}{'trained best':>14}{'median':>9}{'dirs':>6}{'direct opt':>12}{'derived':>9}{'d*':>4}"
          f"{'unit pentagon':>15}")
    for r in res["circle"]:
        print(f"{r['n']:>3}{r['trained_loss_best']:>14.4f}{r['trained_loss_median']:>9.4f}"
              f"{r['trained_directions_best']:>6}{r['direct_optimum_loss']:>12.4f}{r['derived_loss']:>9.4f}"
              f"{r['derived_best_d']:>4}{r['unit_norm_pentagon_loss']:>15.4f}")
    print("seed formula sum_{|s|<=d/4} cos^2(2 pi s/d) by d:",
          {d: round(v, 3) for d, v in res["circle"][-1]["seed_formula_by_d"].items()})
    paths = [write_json(p, res) for p in [out / "seed002.json", *extra]]
    print(wrote([*paths, figure(res, out / "seed002_directions.png")]))


if __name__ == "__main__":
    main()
