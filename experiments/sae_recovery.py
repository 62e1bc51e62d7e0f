"""Feature recovery by SAEs and dictionary learning in the toy setting of the early SAE work.

Setting (Sharkey, Braun & Millidge 2022, *Taking features out of superposition
with sparse autoencoders*): n true features, unit-norm Gaussian atoms in m
dimensions, feature i active with probability p_i = p0 r^i, amplitudes U(0, 1),
noiseless h = W x. Their full size is m = 256, n = 512, p0 = 5/512, r = 0.99
(``--full``); the default here is a reduced size with the same decay profile
over the index range (m = 32, n = 64, p0 = 5/64, r = 0.99^8, so p_i / p0 at the
last feature is the same), because the full grid needs hours of CPU.

Grid: dictionary size d = ratio x n for each ``--ratios``, and for L1 SAEs the
L1 coefficient over ``--l1`` (a log grid); TopK SAEs with k = ``--topk``
(about the mean L0, sum p_i); scikit-learn's MiniBatchDictionaryLearning
(alpha = ``--alpha``) as the non-amortised reference. All SAEs of one (kind, d)
train in one batched model; ``--seeds`` initialisation seeds each, on the same
dictionary W and data. Reported per configuration: MMCS, fraction of true
features recovered at |cos| >= 0.9 and 0.99, dictionary MCC, dead latents,
final MSE and L0, mean and range over seeds.

    python experiments/sae_recovery.py [--quick] [--full] [--json PATH] [--update-data]

Writes ``results/sae/sae_recovery.json`` (``--update-data``: ``data/sae/sae_recovery.json``).
"""
import argparse
import json
import os
import time

import numpy as np

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


def run(a, progress=True):
    data = setting(a.m, a.n, a.seed)
    W = data.W
    inits = instance_seeds(a.seed, a.seeds)
    rows = []
    for ratio in a.ratios:
        d = round(ratio * a.n)
        base = SAESpec(m=a.m, d=d, kind="l1", lr=a.lr, steps=a.steps, batch=a.batch)
        specs = [base.replace(l1=lam) for lam in a.l1 for _ in range(a.seeds)]
        models = train(specs, data, inits * len(a.l1), cache=a.cache, progress=progress)
        for j, lam in enumerate(a.l1):
            rows.append(summarise_models(W, models[j * a.seeds:(j + 1) * a.seeds],
                                         {"learner": "L1 SAE", "ratio": ratio, "d": d, "l1": lam}))
        topk = train(SAESpec(m=a.m, d=d, kind="topk", k=a.topk, lr=a.lr, steps=a.steps, batch=a.batch), data,
                     inits, cache=a.cache, progress=progress)
        rows.append(summarise_models(W, topk, {"learner": "TopK SAE", "ratio": ratio, "d": d, "k": a.topk}))
        H = data.sample(0, a.dl_samples)[0]
        dls = [learn_dictionary(H, d, alpha=a.alpha, seed=s, max_iter=a.dl_epochs, positive_code=True)
               for s in range(a.seeds)]
        reps = [M.dictionary_report(W, r.dictionary) for r in dls]
        row = {"learner": "dictionary learning", "ratio": ratio, "d": d, "alpha": a.alpha}
        for key in ("mmcs", "recovered_0.9", "recovered_0.99", "mcc"):
            v = np.array([r[key] for r in reps])
            row[key] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.5, 1, 2, 4])
    ap.add_argument("--l1", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0])
    ap.add_argument("--topk", type=int, default=1)
    ap.add_argument("--alpha", type=float, default=0.05, help="dictionary-learning L1 weight")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="dictionary and data seed")
    ap.add_argument("--dl-samples", type=int, default=50_000)
    ap.add_argument("--dl-epochs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 ratios, 2 L1 coefficients, 2 seeds, 400 steps")
    ap.add_argument("--full", action="store_true", help="the full size m=256, n=512 (hours of CPU)")
    ap.add_argument("--cache")
    ap.add_argument("--json")
    ap.add_argument("--update-data", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if a.full:
        a.m, a.n = 256, 512
    if a.quick:
        a.ratios, a.l1, a.seeds, a.steps, a.batch, a.dl_samples, a.dl_epochs = [1, 2], [3e-3, 3e-2], 2, 400, 256, \
            4000, 2
    t0 = time.perf_counter()
    rows = run(a, progress=not a.no_progress)
    spec = setting(a.m, a.n, a.seed).spec
    print(f"SAE recovery: m={a.m}, n={a.n}, p_i = {spec.p:.4g} * {spec.decay:.4g}^i (E L0 = {spec.expected_l0():.2f}), "
          f"U(0,1) amplitudes; {a.steps} steps x {a.batch}; mean [min, max] over {a.seeds} seeds")
    print(f"{'learner':<21}{'d':>6}{'param':>10}{'MMCS':>24}{'rec>=0.9':>10}{'rec>=0.99':>10}{'dead':>7}{'L0':>7}")
    for r in rows:
        par = r.get("l1", r.get("k", r.get("alpha")))
        mm = r["mmcs"]
        print(f"{r['learner']:<21}{r['d']:>6}{par:>10g}{mm['mean']:>8.3f} [{mm['min']:.3f}, {mm['max']:.3f}]"
              f"{r['recovered_0.9']['mean']:>10.3f}{r['recovered_0.99']['mean']:>10.3f}"
              f"{r.get('dead', float('nan')):>7.2f}{r.get('l0', float('nan')):>7.2f}")
    path = a.json or os.path.join("data" if a.update_data else "results", "sae", "sae_recovery.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    doc = {"setting": {k: v for k, v in vars(a).items() if k not in ("json", "cache", "no_progress")},
           "rows": rows, "seconds": time.perf_counter() - t0}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {path} ({doc['seconds']:.0f} s)")
    return doc


if __name__ == "__main__":
    main()
