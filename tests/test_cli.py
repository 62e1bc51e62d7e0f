"""The csbench command: list and demo."""
import subprocess
import sys

import pandas as pd

from csbench.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ["gaussian", "rademacher", "unit", "antipodal", "sparse", "file",
                 "binary", "signed", "bernoulli", "matched_filter", "relu_readout", "basis_pursuit"]:
        assert name in out


def test_demo_small(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "csbench", "demo", "--n", "64", "--k", "2", "--trials", "6",
                        "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "demo_success.csv")
    assert set(table.decoder) == {"matched_filter", "basis_pursuit"}
    assert table.rate.between(0, 1).all() and (table.trials == 6).all()
    bp = table[table.decoder == "basis_pursuit"].sort_values("m")
    assert bp.rate.iloc[-1] == 1.0 and bp.rate.iloc[0] == 0.0  # m=4 < 2k+... cannot recover; 2 log2 C(64,2) can
    assert (out / "demo.png").stat().st_size > 10_000


def test_cli_error_is_clean(capsys):
    assert main(["demo", "--n", "10", "--k", "20", "--trials", "2", "--quiet"]) == 2
    assert "k=20" in capsys.readouterr().err
