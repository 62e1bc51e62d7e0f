"""Figures drawn from result tables (never from decoders)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .theory import chernoff_m, log2_binom  # noqa: E402


def plot_success_vs_m(table, path=None, title=None):
    """Success rate vs m with 95 % Wilson bands: one panel per (n, k), one line per decoder.

    ``table`` is the output of :func:`csbench.harness.success_table`. Each panel
    marks ``m = log2 C(n, k)`` (counting) and ``m = 8 k ln n`` (Chernoff bound for
    the matched filter). Returns the figure; saves it when ``path`` is given.
    """
    panels = sorted(table.groupby(["n", "k"]).groups)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False, sharey=True)
    for ax, (n, k) in zip(axes[0], panels):
        sub = table[(table.n == n) & (table.k == k)]
        for dec, d in sub.groupby("decoder"):
            d = d.sort_values("m")
            line, = ax.plot(d.m, d.rate, marker="o", ms=3, label=dec)
            ax.fill_between(d.m, d.low, d.high, color=line.get_color(), alpha=0.2, lw=0)
        ax.axvline(float(log2_binom(n, k)), color="k", ls="--", lw=1, label=r"$\log_2\binom{n}{k}$")
        ax.axvline(float(chernoff_m(n, k)), color="k", ls=":", lw=1, label=r"$8k\ln n$")
        ax.set_xscale("log")
        ax.set_xlabel("m")
        ax.set_title(f"n={n}, k={k}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("success rate")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
