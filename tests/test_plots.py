"""Figures and the report render from tiny stored runs and show the stored numbers."""
import os

import numpy as np
import pytest

from csbench import theory
from csbench.config import DecoderSpec, Sweep
from csbench.analysis import success_table
from csbench.harness import run_grid, run_sweep
from csbench.analysis import m_star_table
from csbench.studies.minimal_m import minimal_m, minimal_m_table
from csbench.plots import (plot_bits_per_dimension, plot_m_star_vs_k, plot_phase_diagram,
                           plot_success_vs_m, theory_m_curves)
from csbench.problems import Cell
from csbench.report import write_report


@pytest.fixture(scope="module")
def grid_run():
    cells = [Cell("gaussian", "binary", 64, k) for k in (1, 2)]
    ms = [8, 12, 16, 24, 32, 48, 64, 96]
    return run_grid(cells, ms, [DecoderSpec("matched_filter")], trials=12, seed=4, progress=False)


@pytest.fixture(scope="module")
def mm_table():
    res = [minimal_m("matched_filter", n=n, k=k, trials=15) for n in (64, 128) for k in (1, 2, 4)]
    return minimal_m_table(res)


def test_m_star_table_from_grid_matches_plain_loop(grid_run):
    tab = m_star_table(grid_run)
    assert len(tab) == 2
    for _, row in tab.iterrows():
        d = grid_run[grid_run.k == row.k]
        crit = []
        for t, g in d.groupby("trial"):
            g = g.sort_values("m")
            ok = g.exact.to_numpy()
            ms = g.m.to_numpy()
            c = np.inf if not ok[-1] else ms[max([i for i in range(len(ok)) if not ok[i]], default=-1) + 1]
            crit.append(c)
        assert row.m_star_monotone == np.sort(crit)[5]  # 12 trials: the 6th smallest reaches rate 1/2
        assert row.monotone_low <= row.m_star_monotone <= row.monotone_high
        rate = d.groupby("m").exact.mean()
        assert row.m_star == rate.index[rate.to_numpy() >= 0.5][0]  # pointwise: first grid m with S(m) >= 1/2
        assert row.ci_low <= row.m_star <= row.ci_high and row.m_star <= row.m_star_monotone


def test_success_plot(grid_run, tmp_path):
    table = success_table(grid_run)
    fig = plot_success_vs_m(table)
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    sub = table[table.k == 1].sort_values("m")
    np.testing.assert_array_equal(line.get_xdata(), sub.m)
    np.testing.assert_allclose(line.get_ydata(), sub.rate)
    plot_success_vs_m(table, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_m_star_vs_k_plot(mm_table, tmp_path):
    fig = plot_m_star_vs_k(mm_table)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    pts = ax.containers[0].lines[0]  # errorbar data line of the only decoder, n = 64
    sub = mm_table[mm_table.n == 64].sort_values("k")
    np.testing.assert_allclose(np.asarray(pts.get_ydata(), float), sub.m_star.to_numpy())
    labels = [l.get_label() for l in ax.get_lines()]
    ks = np.unique(np.round(np.geomspace(1, 4, 40)).astype(int))
    curves = theory_m_curves(64, ks)
    i = labels.index(r"$\log_2\binom{n}{k}$")
    np.testing.assert_allclose(ax.get_lines()[i].get_ydata(), theory.log2_binom(64, ks))
    assert r"$8k\ln n$" in curves and len(curves) >= 3
    plot_m_star_vs_k(mm_table, tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_phase_and_bits_plots(mm_table, tmp_path):
    fig = plot_phase_diagram(mm_table)
    ax = fig.axes[0]
    pts = ax.containers[0].lines[0]
    np.testing.assert_allclose(np.asarray(pts.get_xdata(), float), (mm_table.m_star / mm_table.n).to_numpy())
    np.testing.assert_allclose(np.asarray(pts.get_ydata(), float), (mm_table.k / mm_table.m_star).to_numpy())
    rho = ax.get_lines()[0]
    np.testing.assert_allclose(rho.get_ydata()[49], theory.rho_weak(0.5), rtol=1e-12)
    fig = plot_bits_per_dimension(mm_table)
    pts = fig.axes[1].containers[0].lines[0]
    sub = mm_table[mm_table.n == 128].sort_values("k")
    np.testing.assert_allclose(np.asarray(pts.get_ydata(), float),
                               theory.log2_binom(128, sub.k.to_numpy()) / sub.m_star.to_numpy())
    plot_phase_diagram(mm_table, tmp_path / "p.png")
    plot_bits_per_dimension(mm_table, tmp_path / "b.png")
    assert (tmp_path / "p.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000


@pytest.mark.parametrize("m", [[8, 16, 32, 64, 128], "auto"])
def test_report_from_tiny_run(tmp_path, m):
    sweep = Sweep(decoders=["matched_filter"], n=[64], k=[1, 2, 4], m=m, trials=8, name="tiny")
    out = tmp_path / "run"
    df = run_sweep(sweep, str(out), progress=False)
    path = write_report(str(out))
    text = open(path).read()
    assert "# csbench report: tiny" in text and "Scaling constants" in text
    for name in ("m_star_vs_k", "phase_diagram", "bits_per_dimension"):
        assert os.path.getsize(out / f"report_{name}.png") > 1000
    if m == "auto":
        for v in df.m_star:  # every stored m* appears in the table
            assert f"| {v:.4g} |" in text
    else:
        assert os.path.getsize(out / "report_success_vs_m.png") > 1000
        tab = m_star_table(df)
        for v in tab.m_star:
            assert f"| {v:.4g} |" in text
