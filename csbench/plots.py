"""Figures drawn from result tables (never from decoders)."""
from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .theory import chernoff_m, log2_binom  # noqa: E402


def _save(fig, path, title):
    """Title, tight layout, save to ``path`` (and close) when given; return the figure."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_success_vs_m(table, path=None, title=None):
    """Success rate vs m with 95 % Wilson bands: one panel per (n, k), one line per decoder.

    ``table`` is the output of :func:`csbench.analysis.success_table`. Each panel
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
    # Outside the panels, right of the last one: inside, it covered the right-most curve.
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return _save(fig, path, title)


# --------------------------------------------------------------------------- minimal-m figures
def _mstar(table):
    """A copy of a minimal-m table with float m* and interval (None -> nan), int n and k."""
    t = table.copy()
    for c in ("m_star", "ci_low", "ci_high"):
        t[c] = np.asarray(t[c].astype(float).to_numpy() if c in t else np.full(len(t), np.nan), float)
    if "decoder" not in t:
        t["decoder"] = "?"
    t["n"] = t["n"].astype(int)
    t["k"] = t["k"].astype(int)
    return t


def _panels(t):
    ns = sorted(t["n"].unique())
    fig, axes = plt.subplots(1, len(ns), figsize=(4.6 * len(ns), 3.8), squeeze=False)
    return fig, list(zip(axes[0], ns))


def _errbar(ax, x, y, lo, hi, label):
    """Points with asymmetric error bars; infinite/missing bounds are drawn as arrows-free caps."""
    y = np.asarray(y, float)
    lo = np.where(np.isfinite(lo), lo, y)
    hi = np.where(np.isfinite(hi), hi, y)
    return ax.errorbar(x, y, yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)], marker="o", ms=4,
                       capsize=2, lw=1, label=label)


def theory_m_curves(n, ks, nonneg=False):
    """Theory lines for m* vs k at fixed n: name -> array over ``ks``.

    ``k log2(n/k)``, ``log2 C(n,k)``, ``8 k ln n`` (Chernoff, matched filter),
    ``2 k ln(n/m)`` (small-delta l1 transition, ``theory.m_small_delta``) and
    the m with ``k/m = rho_W(m/n)`` (``theory.m_weak``; ``rho_W+`` when
    ``nonneg``). Curves whose theory function is unavailable are omitted.
    """
    from . import theory
    from .fits import scaling_x

    ks = np.asarray(ks, int)
    out = {r"$k\log_2(n/k)$": scaling_x(n, ks, "k_log2_n_k"),
           r"$\log_2\binom{n}{k}$": np.asarray(log2_binom(n, ks), float),
           r"$8k\ln n$": np.asarray(chernoff_m(n, ks), float)}
    out[r"$2k\ln(n/m)$"] = np.array([theory.m_small_delta(int(n), int(k)) for k in ks])
    lab = r"$\rho_W^+$" if nonneg else r"$\rho_W$"
    out[f"{lab}: $k/m=\\rho(m/n)$"] = np.array([theory.m_weak(int(n), int(k), nonneg) for k in ks])
    return out


def _k_axis(ax, ks):
    """Log-scaled k axis with plain integer labels at the measured k values."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(int(k) for k in ks)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def plot_m_star_vs_k(table, path=None, title=None, nonneg=False):
    """m*_q vs k with confidence intervals, one panel per n, with theory overlays.

    ``table`` has one row per (decoder, n, k) with ``m_star``, ``ci_low``,
    ``ci_high`` (a :func:`csbench.studies.minimal_m.minimal_m_table`,
    :func:`csbench.analysis.m_star_table` or ``load_minimal_m`` frame).
    Overlays: :func:`theory_m_curves`. Log-log axes. Returns the figure.
    """
    t = _mstar(table)
    fig, panels = _panels(t)
    for ax, n in panels:
        sub = t[t.n == n]
        for dec, d in sub.groupby("decoder"):
            d = d.sort_values("k")
            _errbar(ax, d.k, d.m_star, d.ci_low, d.ci_high, dec)
        ks = np.unique(np.round(np.geomspace(max(1, sub.k.min()), sub.k.max(), 40)).astype(int))
        if ks.size:
            styles = iter(["--", "-.", ":", (0, (5, 1)), "-", (0, (1, 1))])
            for lab, ys in theory_m_curves(n, ks, nonneg).items():
                ax.plot(ks, ys, color="gray", ls=next(styles), lw=1, label=lab)
        _k_axis(ax, sub.k)
        ax.set_yscale("log")
        ax.set_xlabel("k (active features)")
        ax.set_ylabel("m*")
        ax.set_title(f"n={n}")
        ax.grid(alpha=0.3, which="both")
    panels[-1][0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # off the curves
    return _save(fig, path, title)


def plot_phase_diagram(table, path=None, title=None):
    """Donoho-Tanner diagram: empirical 50 % points ``(delta, rho) = (m*/n, k/m*)`` with rho_W, rho_W+.

    Error bars come from the m* interval (``delta`` and ``rho`` move together along
    ``rho = k/(n delta)``). The curves are :func:`csbench.theory.rho_weak` for
    signed (cross-polytope) and nonnegative (simplex) signals. Returns the figure.
    """
    from . import theory

    t = _mstar(table)
    t = t[np.isfinite(t.m_star) & (t.m_star > 0)]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    d = np.linspace(0.01, 0.99, 99)
    ax.plot(d, theory.rho_weak(d, False), "k-", lw=1.2, label=r"$\rho_W$ (signed)")
    ax.plot(d, theory.rho_weak(d, True), "k--", lw=1.2, label=r"$\rho_W^+$ (nonnegative)")
    for dec, g in t.groupby("decoder"):
        delta = g.m_star / g.n
        rho = g.k / g.m_star
        lo, hi = g.ci_low.clip(lower=1), g.ci_high
        ax.errorbar(delta, rho, xerr=[delta - lo.where(np.isfinite(lo), g.m_star) / g.n,
                                      hi.where(np.isfinite(hi), g.m_star) / g.n - delta],
                    fmt="o", ms=4, capsize=2, lw=1, label=dec)
    ax.set_xlim(0, 1.04)  # a little past 1, so that a point at delta = 1 (m* = n) is drawn whole
    ax.set_ylim(0, 1.04)
    ax.set_xlabel(r"$\delta = m/n$")
    ax.set_ylabel(r"$\rho = k/m$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, title)


def plot_bits_per_dimension(table, path=None, title=None):
    """Bits per dimension ``log2 C(n, k) / m*`` vs k, one panel per n, interval from the m* CI.

    Seed 003: compressed-sensing decoders store a little over one bit per
    dimension (line at 1), matched filters far less. Returns the figure.
    """
    t = _mstar(table)
    t = t[np.isfinite(t.m_star) & (t.m_star > 0)]
    fig, panels = _panels(t)
    for ax, n in panels:
        for dec, d in t[t.n == n].groupby("decoder"):
            d = d.sort_values("k")
            bits = np.asarray(log2_binom(n, d.k.to_numpy()), float)
            with np.errstate(divide="ignore"):
                _errbar(ax, d.k, bits / d.m_star, bits / d.ci_high.to_numpy(), bits / d.ci_low.clip(lower=1).to_numpy(), dec)
        ax.axhline(1.0, color="k", ls="--", lw=1, label="1 bit / dimension")
        _k_axis(ax, t[t.n == n].k)
        ax.set_xlabel("k (active features)")
        ax.set_ylabel(r"$\log_2\binom{n}{k}\,/\,m^*$")
        ax.set_title(f"n={n}")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
    panels[-1][0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return _save(fig, path, title)
