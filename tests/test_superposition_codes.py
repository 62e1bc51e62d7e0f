"""experiments/superposition_codes.py --quick: its JSON, and matching-k (s = 1) against the top-k read-out."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import csbench

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "experiments" / "superposition_codes.py"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("sc")
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--decoders",
                    "matched filter (threshold)", "matched filter (top-k)", "matching-k s=1",
                    "binary matching pursuit", "matching-k s=2", "VAMP (Bayes binary)"],
                   check=True, cwd=ROOT, capture_output=True, text=True)
    return json.loads((out / "superposition_codes_512.json").read_text())


def test_quick_json_keys_and_units(quick):
    assert {"n", "encoder", "signal", "trials", "seed", "wall_s", "peak_rss_gib", "argv", "rows"} <= set(quick)
    assert quick["n"] == 512 and quick["encoder"] == "rademacher" and quick["trials"] == 6
    assert 0 < quick["peak_rss_gib"] < 4 and quick["wall_s"] > 0
    assert len(quick["rows"]) == 6 * 2  # six decoders, k = 2, 4
    for r in quick["rows"]:
        assert {"label", "decoder", "params", "k", "m_star", "ci_low", "ci_high", "dims_per_bit", "log2C",
                "critical", "time_s", "peak_rss_gib", "status_counts"} <= set(r)
        assert r["log2C"] == pytest.approx(float(csbench.theory.log2_binom(512, r["k"])), rel=1e-12)
        assert r["dims_per_bit"] == pytest.approx(r["m_star"] / r["log2C"], rel=1e-12)
        assert r["ci_low"] <= r["m_star"] <= r["ci_high"]
        assert len(r["critical"]) == 6


def test_matching_k_one_step_is_the_top_k_read_out(quick):
    """matching-k with s = 1 (per-trial search) and the matched filter's top-k rule (exact one-pass curve)
    give the same m* in the same run (here the curve's pointwise and monotone m* coincide; at N = 2^16, k = 4
    they do not, and the search's m* is the monotone one); per trial the search's transition is at or below the curve's last
    one, and equal to it for monotone trials. Binary MP is matching-k with s = k."""
    rows = {(r["label"], r["k"]): r for r in quick["rows"]}
    for k in (2, 4):
        mf, mk = rows["matched filter (top-k)", k], rows["matching-k s=1", k]
        assert mf["method"] == "exact-mf" and mk["method"] == "search"
        assert mk["m_star"] == mf["m_star"] == mf["m_star_monotone"]
        assert all(c <= d for c, d in zip(mk["critical"], mf["critical"]))
    assert rows["matched filter (top-k)", 2]["n_nonmonotone"] == 0
    assert rows["matching-k s=1", 2]["critical"] == rows["matched filter (top-k)", 2]["critical"]
    assert rows["binary matching pursuit", 2]["critical"] == rows["matching-k s=2", 2]["critical"]  # s = k


def test_combine_keeps_each_rows_trials(quick, tmp_path):
    """--combine joins runs of one (N, seed) with different trial counts: a later file wins a (decoder, k),
    each row keeps its trials, the table marks the rows with fewer than the largest count."""
    other = json.loads(json.dumps(quick))
    other["trials"] = 3
    other["rows"] = [dict(r, trials=3) for r in other["rows"] if r["label"] == "binary matching pursuit"]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(quick))
    b.write_text(json.dumps(other))
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "c"), "--combine", str(a), str(b)],
                   check=True, cwd=ROOT, capture_output=True, text=True)
    doc = json.loads((tmp_path / "c" / "superposition_codes_512.json").read_text())
    assert doc["trials"] == 6 and len(doc["rows"]) == len(quick["rows"]) and len(doc["parts"]) == 2
    assert {r["trials"] for r in doc["rows"] if r["label"] == "binary matching pursuit"} == {3}
    table = (tmp_path / "c" / "superposition_codes_512.md").read_text()
    bmp = next(line for line in table.splitlines() if line.startswith("| binary matching pursuit"))
    assert bmp.count("(3 trials)") == 2 and "(3 trials)" not in table.replace(bmp, "")


def test_start_from_a_smaller_k_keeps_the_critical_m(quick, tmp_path):
    """--start-from: each search starts at the same decoder's m* at the next smaller k, scaled by the bits
    (k = 2 has none: m_W); a trial monotone in m has the same critical m from any start."""
    import math

    src = tmp_path / "src.json"
    src.write_text(json.dumps(quick))
    labels = ["binary matching pursuit", "matching-k s=2"]
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path / "s"), "--decoders", *labels,
                    "--start-from", str(src)], check=True, cwd=ROOT, capture_output=True, text=True)
    doc = json.loads((tmp_path / "s" / "superposition_codes_512.json").read_text())
    old = {(r["label"], r["k"]): r for r in quick["rows"]}
    for r in doc["rows"]:
        o = old[r["label"], r["k"]]
        if r["k"] == 2:
            assert r["m_start"] == o["m_start"] == math.ceil(float(csbench.theory.m_weak(512, 2)))
            assert r["m_start_rule"] == "m_W(N, k)"
        else:
            assert r["m_start_rule"] == "scaled from a smaller k"
            assert r["m_start"] == math.ceil(old[r["label"], 2]["m_star"] * o["log2C"] / old[r["label"], 2]["log2C"])
        if r["n_nonmonotone"] == 0 and o["n_nonmonotone"] == 0:
            assert r["critical"] == o["critical"]
    moved = [r for r in doc["rows"] if r["m_start"] != old[r["label"], r["k"]]["m_start"]
             and r["n_nonmonotone"] == old[r["label"], r["k"]]["n_nonmonotone"] == 0]
    assert moved  # not vacuous: matching-k s=2 at k = 4 starts at 23 instead of m_W = 26, all 6 trials monotone
