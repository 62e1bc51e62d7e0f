"""Seed 003 study: minimal m of the matched filter and the lasso, n = 4096, k = 1..32.

Gaussian encoder, binary k-sparse signals, exact recovery, m*_0.5 with 95 %
intervals (csbench.minimal_m: pointwise S(m) = 1/2 crossing; m_star_monotone for the
matched filter).
Prints a table with the theory lines and the fitted constants, and saves
``seed003_minimal_m.csv`` and two figures to ``results/seed003_minimal_m/`` (``--out``).

    python experiments/seed003_minimal_m.py [--trials 100] [--n 4096] [--k 1 2 4 8 16 32]

JIT compilation is timed separately (a tiny warm-up run) from the study.
"""
import argparse
import time

from tqdm import tqdm

import csbench
from csbench import theory
from csbench._scriptio import add_output_args, output_dir, write_csv, wrote
from csbench.fits import fit_scaling
from csbench.plots import plot_bits_per_dimension, plot_m_star_vs_k

DECODERS = {"matched_filter": {}, "lasso": {"lam_ratio": 1e-3}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Wall time with the defaults: 376 s on the 2-core reference machine under "
                                       "heavy load (numba cache warm; about 37 s more with an empty cache).")
    p.add_argument("--n", type=int, default=4096, help="signal length (default 4096)")
    p.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32], help="sparsities (default 1 2 4 8 16 32)")
    p.add_argument("--trials", type=int, default=100, help="trials per point (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--decoders", nargs="+", default=list(DECODERS), choices=list(DECODERS),
                   help="decoders (default: both)")
    add_output_args(p)
    a = p.parse_args(argv)
    out = output_dir(a, __file__)
    tag = "" if set(a.decoders) == set(DECODERS) else "_" + "_".join(a.decoders)

    t0 = time.perf_counter()
    decs = {d: DECODERS[d] for d in a.decoders}
    for dec, params in decs.items():  # compile (or load cached) kernels
        csbench.minimal_m(dec, n=64, k=2, trials=2, seed=a.seed, **params)
    t_jit = time.perf_counter() - t0

    results, times = [], {}
    bar = tqdm(total=len(decs) * len(a.k), desc="minimal-m searches", unit="search")
    for dec, params in decs.items():
        t1 = time.perf_counter()
        for k in a.k:
            bar.set_postfix_str(f"{dec}, k={k}")
            results.append(csbench.minimal_m(dec, n=a.n, k=k, trials=a.trials, seed=a.seed, **params))
            bar.update()
        times[dec] = time.perf_counter() - t1
    bar.close()
    table = csbench.minimal_m_table(results)
    table["log2C"] = [float(theory.log2_binom(a.n, k)) for k in table.k]
    table["8k_ln_n"] = [float(theory.chernoff_m(a.n, k)) for k in table.k]
    table["bits_per_dim"] = table.log2C / table.m_star
    cols = ["decoder", "k", "m_star", "ci_low", "ci_high", "m_star_monotone", "n_censored", "n_nonmonotone",
            "log2C", "8k_ln_n", "bits_per_dim", "time"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    mf = table[table.decoder == "matched_filter"]
    cs = table[table.decoder == "lasso"]
    print()
    for name, sub, scale in (("matched_filter", mf, "k_ln_n"), ("lasso", cs, "log2_binom"),
                             ("lasso", cs, "k_log2_en_k")):
        if not len(sub):
            continue
        f = fit_scaling(sub, scale=scale).iloc[0]
        print(f"{name:<15} m* = c * {scale:<12} c = {f.c:.3f} [{f.c_low:.3f}, {f.c_high:.3f}]"
              f"  chi2/dof = {f.chi2_dof:.2f}")
    print(f"\nJIT warm-up {t_jit:.1f} s; study: " + ", ".join(f"{d} {t:.1f} s" for d, t in times.items())
          + f"; total {sum(times.values()):.1f} s")
    paths = [write_csv(table.drop(columns=["critical"]), out / f"seed003_minimal_m{tag}.csv"),
             out / f"seed003_minimal_m{tag}.png", out / f"seed003_bits_per_dimension{tag}.png"]
    title = f"Gaussian A, binary x, n={a.n}, {a.trials} trials per point"
    plot_m_star_vs_k(table, paths[1], title=title)
    plot_bits_per_dimension(table, paths[2], title=title)
    print(wrote(paths))


if __name__ == "__main__":
    main()
