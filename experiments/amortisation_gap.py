"""The amortisation gap: an SAE's encoder against per-sample sparse inference, with the dictionary known and learned.

Setting (the known-dictionary toy named in issue 16, after O'Neill, Gumran &
Klindt, ICML 2025, *Compute optimal inference and provable amortisation gap in
sparse autoencoders*): n = 16
features in m = 8 dimensions, k = 3 active per sample (a uniform 3-subset),
amplitudes |N(0, 1)|, atoms unit-norm Gaussian (one dictionary W per seed),
noiseless h = W x.

Per seed (dictionary): SAEs with d = n latents are trained on fresh samples
(L1 SAEs at each L1 coefficient of ``--l1``, a TopK SAE with k = 3); on
``--test`` held-out samples (indices from 10^8, disjoint from training) the
codes are read by

* the SAE encoder (``sae_encode``, amortised inference);
* per-sample inference on the SAE's dictionary D = W_dec (applied to
  h - b_dec): csbench's nonnegative lasso (lam_ratio 1e-3) and nonnegative OMP with k atoms;
* per-sample inference on the true dictionary W: the same decoders plus
  nonnegative basis pursuit;
* per-sample inference on a dictionary learned without an encoder
  (scikit-learn's MiniBatchDictionaryLearning, nonnegative codes, alpha
  ``--dl-alpha``, ``--dl-epochs`` passes over ``--dl-samples`` training samples).

Learned latents are mapped to true features by the optimal one-to-one
matching of D to W (Hungarian on |cos|). Reported per route: latent MCC (mean
|Pearson correlation| of matched code columns), exact support recovery
(supports {|x_i| > 0.01} equal after matching), and for the SAEs the
dictionary MMCS; each a mean over seeds with a 95 % t interval over seeds
(clustered by dictionary: a seed's test samples are not independent draws of W),
clipped to [0, 1].

    python experiments/amortisation_gap.py [--seeds 8] [--steps 8000] [--quick] [--json PATH] [--update-data]

Writes ``results/sae/amortisation_gap.json`` (``--update-data``: ``data/sae/amortisation_gap.json``).
"""
import argparse
import json
import os
import time

import numpy as np

import csbench
from csbench.sae import ActivationData, ActivationSpec, SAESpec
from csbench.sae import metrics as M
from csbench.sae.dictlearn import learn_dictionary
from csbench.sae.training import train
from csbench.toy.spec import instance_seeds

N, MDIM, K = 16, 8, 3
TEST_START = 10**8
SUPPORT_TOL = 0.01


def dictionary(seed):
    """Unit-norm Gaussian atoms, one dictionary per seed."""
    W = np.random.default_rng(np.random.SeedSequence([seed, 16_008])).standard_normal((MDIM, N))
    return W / np.linalg.norm(W, axis=0)


def score_codes(X, X_hat_true_basis, Z=None, matching=None):
    """Latent MCC and exact support recovery of codes in the true basis (or learned codes Z + matching)."""
    if Z is None:
        Z, matching = X_hat_true_basis, M.identity_matching(X.shape[1])
    return {"mcc": M.latent_mcc(X, Z, matching),
            "support": M.support_recovery(X, M.matched_codes(Z, matching, X.shape[1]), tol=SUPPORT_TOL)}


def per_sample(D, Y):
    """csbench per-sample inference routes on dictionary D: name -> codes (T, d)."""
    return {"lasso+": csbench.decode("lasso", D, Y, positive=True).X_hat,
            "omp+": csbench.decode("omp", D, Y, k=K, positive=True).X_hat}


def run(seeds, steps, batch, l1s, test, cache, progress=True, dl_samples=20_000, dl_epochs=10, dl_alpha=0.1):
    """Rows of per-seed metrics for every route."""
    spec = ActivationSpec(N, support="ksparse", k=K, amplitude="half_normal")
    datas = [ActivationData(dictionary(s), spec, seed=s) for s in range(seeds)]
    inits = instance_seeds(0, seeds)
    saes = {}
    l1_specs = [SAESpec(m=MDIM, d=N, kind="l1", l1=lam, lr=3e-3, steps=steps, batch=batch) for lam in l1s]
    models = train([sp for sp in l1_specs for _ in range(seeds)], datas * len(l1s), inits * len(l1s),
                   cache=cache, progress=progress)
    for j, lam in enumerate(l1s):
        saes[f"L1 SAE (l1={lam:g})"] = models[j * seeds:(j + 1) * seeds]
    saes[f"TopK SAE (k={K})"] = train(SAESpec(m=MDIM, d=N, kind="topk", k=K, lr=3e-3, steps=steps, batch=batch),
                                      datas, inits, cache=cache, progress=progress)
    rows = []
    for s, data in enumerate(datas):
        W = data.W
        H, X = data.sample(TEST_START, TEST_START + test)
        for name, codes in {**per_sample(W, H),
                            "basis_pursuit+": csbench.decode("basis_pursuit", W, H, nonneg=True).X_hat}.items():
            rows.append({"seed": s, "dictionary": "true", "route": name, **score_codes(X, codes)})
        for sae_name, mdls in saes.items():
            mdl = mdls[s]
            D = mdl.dictionary
            mt = M.match(W, D)
            common = {"seed": s, "dictionary": sae_name, "mmcs": M.mmcs(W, D), "dead": mdl.dead_fraction}
            Z = mdl.encode(H)
            rows.append({**common, "route": "SAE encoder", **score_codes(X, None, Z, mt),
                         "ev": M.explained_variance(H, mdl.reconstruct(H)), "l0": M.mean_l0(Z, tol=SUPPORT_TOL)})
            for name, codes in per_sample(D, H - mdl.params["b_dec"].astype(np.float64)).items():
                rows.append({**common, "route": name, **score_codes(X, None, codes, mt)})
        if dl_epochs:
            learned = learn_dictionary(data.sample(0, dl_samples)[0], N, alpha=dl_alpha, seed=s, max_iter=dl_epochs,
                                       tol=0.0, max_no_improvement=None, positive_code=True)
            D = learned.dictionary
            mt = M.match(W, D)
            common = {"seed": s, "dictionary": f"dict. learning (alpha={dl_alpha:g})", "mmcs": M.mmcs(W, D)}
            for name, codes in per_sample(D, H).items():
                rows.append({**common, "route": name, **score_codes(X, None, codes, mt)})
    return rows


def summarise(rows):
    """Per (dictionary, route): mean and 95 % interval over seeds of each metric."""
    groups = {}
    for r in rows:
        groups.setdefault((r["dictionary"], r["route"]), []).append(r)
    out = []
    for (dic, route), rs in groups.items():
        entry = {"dictionary": dic, "route": route, "seeds": len(rs)}
        for key in ("mcc", "support", "mmcs", "ev", "dead"):
            if key in rs[0]:
                mean, lo, hi = M.cluster_ci([r[key] for r in rs])
                if key != "ev":  # the others lie in [0, 1]: the t interval is clipped to it
                    lo, hi = max(lo, 0.0), min(hi, 1.0)
                entry[key] = {"mean": mean, "low": lo, "high": hi}
        out.append(entry)
    return out


def fmt(v):
    return f"{v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]" if v else ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8, help="dictionaries (one SAE per dictionary and recipe)")
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--l1", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    ap.add_argument("--test", type=int, default=2000, help="held-out samples per dictionary")
    ap.add_argument("--dl-samples", type=int, default=20_000, help="dictionary-learning training samples")
    ap.add_argument("--dl-epochs", type=int, default=10, help="dictionary-learning epochs (0: skip it)")
    ap.add_argument("--dl-alpha", type=float, default=0.1, help="dictionary-learning L1 weight")
    ap.add_argument("--quick", action="store_true",
                    help="reduced size (3 seeds, 600 steps, 300 test samples, dictionary learning 1 epoch of 3000)")
    ap.add_argument("--cache", help="SAE cache folder (default: $CSBENCH_SAE_CACHE or results/sae_cache)")
    ap.add_argument("--json", help="output JSON path (default results/sae/amortisation_gap.json)")
    ap.add_argument("--update-data", action="store_true", help="write data/sae/amortisation_gap.json instead")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.seeds, a.steps, a.test, a.l1, a.dl_samples, a.dl_epochs = 3, 600, 300, a.l1[:1], 3000, 1
    t0 = time.perf_counter()
    rows = run(a.seeds, a.steps, a.batch, a.l1, a.test, a.cache, progress=not a.no_progress,
               dl_samples=a.dl_samples, dl_epochs=a.dl_epochs, dl_alpha=a.dl_alpha)
    summary = summarise(rows)
    print(f"amortisation gap: n={N}, m={MDIM}, k={K}, |N(0,1)| amplitudes, {a.seeds} dictionaries, "
          f"{a.steps} steps x {a.batch}, {a.test} test samples each; 95 % t intervals over dictionaries")
    print(f"{'dictionary':<28}{'route':<16}{'latent MCC':>26}{'exact support':>26}{'MMCS':>26}")
    for e in summary:
        print(f"{e['dictionary']:<28}{e['route']:<16}{fmt(e['mcc']):>26}{fmt(e['support']):>26}"
              f"{fmt(e.get('mmcs')):>26}")
    path = a.json or os.path.join("data" if a.update_data else "results", "sae", "amortisation_gap.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    doc = {"setting": {"n": N, "m": MDIM, "k": K, "amplitude": "half_normal", "atoms": "unit-norm Gaussian",
                       "seeds": a.seeds, "steps": a.steps, "batch": a.batch, "l1": a.l1, "test": a.test,
                       "support_tol": SUPPORT_TOL, "quick": a.quick, "dl_samples": a.dl_samples,
                       "dl_epochs": a.dl_epochs, "dl_alpha": a.dl_alpha},
           "summary": summary, "rows": rows, "seconds": time.perf_counter() - t0}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {path} ({doc['seconds']:.0f} s)")
    return doc


if __name__ == "__main__":
    main()
