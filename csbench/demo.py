"""``csbench demo``: matched filter vs basis pursuit on binary k-sparse signals."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ._validate import check_int
from .config import DecoderSpec
from .analysis import success_table
from .harness import run_grid
from .plots import plot_success_vs_m
from .problems import Cell
from .theory import chernoff_m, log2_binom

MATCHED_FILTER = DecoderSpec("matched_filter", {"rule": "threshold"})
BASIS_PURSUIT = DecoderSpec("basis_pursuit")


def demo_m_grid(n, low, high):
    """Geometric grid (ratio ~1.2) of integers in [max(low, 4), min(high, n)]."""
    lo, hi = max(4, int(low)), int(min(high, n))
    steps = max(2, int(np.ceil(np.log(hi / lo) / np.log(1.2))) + 1)
    return [int(m) for m in np.unique(np.round(np.geomspace(lo, hi, steps)).astype(int))]


def run_demo(out, n=512, ks=(2, 4, 8), trials=50, seed=0, progress=True):
    """Run the demo study and write ``demo_trials.csv``, ``demo_success.csv`` and ``demo.png``.

    Gaussian encoder, k-sparse binary signals, success = every coordinate right
    after thresholding at 1/2. Returns the paths and a text summary of the
    smallest m with success rate >= 1/2 next to ``log2 C(n,k)`` and ``8 k ln n``.
    """
    trials = check_int("trials", trials, low=1)
    cells = [Cell("gaussian", "binary", n, k) for k in ks]
    for c in cells:
        c.validate()
    os.makedirs(out, exist_ok=True)
    # Each decoder gets a grid around its own transition: basis pursuit (an LP per
    # problem) up to 2 log2 C(n,k) (at n = 512, k = 2, 4, 8 every trial succeeded from
    # 1.35, 1.18, 1.18 log2 C(n,k) on; the LPs above cost most of the run), the matched
    # filter from log2 C(n,k) / 2 up.
    bits = {c.k: float(log2_binom(n, c.k)) for c in cells}
    df = pd.concat([
        run_grid(cells, lambda c: demo_m_grid(n, 4, 2 * bits[c.k]), [BASIS_PURSUIT], trials, seed, progress),
        run_grid(cells, lambda c: demo_m_grid(n, bits[c.k] / 2, n), [MATCHED_FILTER], trials, seed, progress),
    ], ignore_index=True)
    table = success_table(df)
    paths = {"csv": os.path.join(out, "demo_success.csv"), "png": os.path.join(out, "demo.png")}
    df.to_csv(os.path.join(out, "demo_trials.csv"), index=False)
    table.to_csv(paths["csv"], index=False)
    plot_success_vs_m(table, paths["png"], title=f"Gaussian A, binary x, n={n}, {trials} trials per point")
    lines = [f"{'decoder':<16}{'k':>4}{'m(50%)':>9}{'log2C(n,k)':>12}{'8k ln n':>10}"]
    for (dec, k), d in table.groupby(["decoder", "k"]):
        hit = d[d.rate >= 0.5]
        m50 = str(int(hit.m.min())) if len(hit) else f">{int(d.m.max())}"
        lines.append(f"{dec:<16}{k:>4}{m50:>9}{float(log2_binom(n, k)):>12.1f}{float(chernoff_m(n, k)):>10.1f}")
    paths["summary"] = "\n".join(lines)
    return paths
