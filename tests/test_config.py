"""Sweep configs: TOML parsing, m ranges, grid expansion, and errors naming file, key and allowed values."""
import dataclasses
import glob
import os

import numpy as np
import pytest

from csbench.config import ConfigError, DecoderSpec, MRange, Sweep, load_sweep
from csbench.harness import expand, run_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOOD = """
name = "t"
seed = 3
trials = 7
block = 3
encoder = ["gaussian", {name = "sparse", params = {d = 2}}]
signal = "binary"
n = [32, 48]
k = [1, 2]
noise = 0.0
m = {start = 4, stop = 16, num = 3}

[[decoders]]
name = "matched_filter"
params = {rule = "topk"}

[[decoders]]
name = "basis_pursuit"
label = "bp"
"""


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_toml_parses_and_expands(tmp_path):
    sweep = load_sweep(write(tmp_path, GOOD))
    assert sweep.m_values() == [4, 8, 16]              # geomspace(4, 16, 3) = 4, 8, 16 exactly
    assert sweep.blocks() == [(0, 3), (3, 3), (6, 1)]
    assert [c.encoder for c in sweep.cells()] == ["gaussian"] * 4 + ["sparse"] * 4
    assert sweep.cells()[4].encoder_params == {"d": 2}
    assert [d.display for d in sweep.decoders] == ["matched_filter", "bp"]
    tasks = expand(sweep)
    # 2 encoders x 2 n x 2 k cells, 3 m, 2 decoders, 3 blocks
    assert len(tasks) == 8 * 3 * 2 * 3
    assert len({t.key() for t in tasks}) == len(tasks)
    assert [t.index for t in tasks] == list(range(len(tasks)))
    per = {}
    for t in tasks:  # each (cell, m, decoder) covers trials 0..6 exactly once
        per.setdefault((t.cell.key(), t.m, t.spec.display), []).extend(range(t.first_trial, t.first_trial + t.trials))
    assert all(sorted(v) == list(range(7)) for v in per.values())
    again = Sweep.from_dict(sweep.to_dict())
    assert again == sweep and again.key() == sweep.key()


@pytest.mark.parametrize("spec, expected", [
    (dict(start=10, stop=1000, num=3), [10, 100, 1000]),
    (dict(start=10, stop=40, step=10, spacing="linear"), [10, 20, 30, 40]),
    (dict(start=10, stop=45, step=10, spacing="linear"), [10, 20, 30, 40]),
    (dict(start=2, stop=10, num=5, spacing="linear"), [2, 4, 6, 8, 10]),
    (dict(start=1, stop=3, num=10), [1, 2, 3]),         # duplicates after rounding dropped
    (dict(start=5, stop=5, num=1), [5]),
])
def test_m_range_values(spec, expected):
    assert MRange(**spec).values() == expected


def test_range_tables_for_n_and_k():
    s = Sweep(decoders="matched_filter", n={"start": 100, "stop": 400, "num": 3}, k={"start": 2, "stop": 6,
              "step": 2, "spacing": "linear"}, m=[10])
    assert s.n == (100, 200, 400) and s.k == (2, 4, 6)
    assert Sweep.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match=r"key 'k': unknown key 'spaceing'.*Did you mean 'spacing'"):
        Sweep(decoders="matched_filter", k={"start": 2, "stop": 6, "num": 3, "spaceing": "linear"})


def test_m_list_and_scalars_normalised():
    s = Sweep(decoders="matched_filter", n=64, k=3, m=[32, 8, 16], noise=0.1)
    assert s.n == (64,) and s.k == (3,) and s.noise == (0.1,) and s.m_values() == [8, 16, 32]
    assert s.decoders == (DecoderSpec("matched_filter"),)


def test_example_experiments_load():
    files = glob.glob(os.path.join(ROOT, "experiments", "*.toml"))
    assert files
    for f in files:
        with open(f) as fh:
            is_train_spec = any(line.strip() == "[model]" for line in fh)  # `csbench train` specs
        if is_train_spec:
            from csbench.toy.spec import load_spec_file

            assert load_spec_file(f)
        else:
            assert load_sweep(f).decoders


BAD = [
    # (replace this, with that, key named, text that must appear)
    ('trials = 7', 'trails = 7', None, "allowed: ['name', 'encoder'"),
    ('trials = 7', 'trails = 7', None, "Did you mean 'trials'?"),
    ('trials = 7', 'trials = 0', "trials", "trials >= 1"),
    ('block = 3', 'block = 2.5', "block", "must be an integer"),
    ('k = [1, 2]', 'k = [1, 40]', "k", "0 <= k <= 32"),
    ('n = [32, 48]', 'n = [32, 32]', "n", "duplicate"),
    ('noise = 0.0', 'noise = -1.0', "noise", "[0.0, inf)"),
    ('num = 3}', 'num = 3, spacing = "log"}', "m", "['geometric', 'linear']"),
    ('m = {start = 4, stop = 16, num = 3}', 'm = {start = 16, stop = 4, num = 3}', "m", "stop >= 16"),
    ('m = {start = 4, stop = 16, num = 3}', 'm = {start = 4, stop = 16, nmu = 3}', "m", "Did you mean 'num'?"),
    ('m = {start = 4, stop = 16, num = 3}', 'm = "aut"', "m", "'auto'"),
    ('m = {start = 4, stop = 16, num = 3}', 'm = [0, 4]', "m[0]", "m >= 1"),
    ('name = "matched_filter"', 'name = "matched_filtr"', "decoders[0]", "Did you mean 'matched_filter'?"),
    ('name = "matched_filter"', 'name = "matched_filter"\nlable = "x"', "decoders[0]",
     "allowed: ['name', 'label', 'params']"),
    ('params = {rule = "topk"}', 'params = {rul = "topk"}', "decoders[0]", "Did you mean 'rule'?"),
    ('label = "bp"', 'label = "matched_filter"', "decoders", "must be unique"),
    ('"gaussian", {name', '"gausian", {name', "encoder[0]", "Did you mean 'gaussian'?"),
    ('params = {d = 2}', 'params = {d = 9}', "encoder", "1 <= d <= 4"),
    ('signal = "binary"', 'signal = "binray"', "signal", "allowed: ['bernoulli', 'binary'"),
    ('signal = "binary"', 'signal = {name = "bernoulli", params = {values = "pos"}}', "signal",
     "['signed', 'positive', 'one']"),
    ('seed = 3', 'seed = 3\ncriterion = "exakt"', "criterion", "['exact', 'support']"),
    ('label = "bp"', 'label = "bp"\n[auto]\nq = 1.5', "auto.q", "(0.0, 1.0)"),
    ('label = "bp"', 'label = "bp"\n[auto]\nqq = 0.5', "auto", "['q', 'conf', 'm_max'"),
]


@pytest.mark.parametrize("old, new, key, allowed", BAD)
def test_invalid_configs_name_file_key_and_allowed(tmp_path, old, new, key, allowed):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    msg = str(info.value)
    assert msg.startswith(path + ": ")
    if key is not None:
        assert f"key {key!r}" in msg
    assert allowed in msg


def test_malformed_and_missing(tmp_path):
    path = write(tmp_path, GOOD.replace("n = [32, 48]", "n = [32, 48"))
    with pytest.raises(ConfigError, match=r"cfg\.toml: malformed TOML: Unclosed array \(at line 9"):
        load_sweep(path)
    with pytest.raises(ConfigError, match="nope.toml: no such file"):
        load_sweep(str(tmp_path / "nope.toml"))
    path = write(tmp_path, "n = 4\n", "nodec.toml")
    with pytest.raises(ConfigError, match=r"nodec\.toml: key 'decoders': missing.*'matched_filter'"):
        load_sweep(path)


def test_cli_run_reports_config_errors(tmp_path, capsys):
    from csbench.cli import main

    path = write(tmp_path, GOOD.replace("trials = 7", "trials = -7"))
    assert main(["run", path, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"csbench: error: {path}: key 'trials': trials=-7 is out of range; allowed: trials >= 1." in err
    assert not (tmp_path / "run").exists()


def test_bad_decoder_value_fails_before_any_work(tmp_path):
    path = write(tmp_path, GOOD.replace('rule = "topk"', 'rule = "top"'))
    with pytest.raises(ConfigError, match=r"cfg.toml: key 'decoders\[0\]': rule='top' "
                                          r"is not one of \['threshold', 'sign', 'topk', 'fitted', 'best', 'raw'\]"):
        load_sweep(path)                # the decoder's declared value checks run when the sweep is built
    # a rule that needs the problem (a bias of n numbers) fails before any task, in whichever cell: the 32
    # numbers fit the first cell (n = 32), not the cells with n = 48
    native = f'name = "native"\nparams = {{activation = "relu", bias = {[0.0] * 32}}}'
    sweep = load_sweep(write(tmp_path, GOOD.replace('name = "matched_filter"\nparams = {rule = "topk"}', native)))
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"key 'decoders\[0\]\.params': native: bias has 32 entries but A has "
                                          r"n=48 columns; allowed: a number or n numbers. \(in cell n=48, k=1\)"):
        run_sweep(sweep, out, progress=False)
    assert not out.exists()             # nothing was started


def test_auto_dispatch(tmp_path, monkeypatch):
    """m = "auto": one minimal-m search per (cell, decoder), as search tasks of the driver; resume reruns nothing."""
    mm = pytest.importorskip("csbench.studies.minimal_m")
    sweep = Sweep(decoders=["matched_filter", {"name": "basis_pursuit", "label": "bp"}], n=[16, 32], k=2,
                  m="auto", trials=5, auto={"q": 0.5})
    assert sweep.m_values() == [] and expand(sweep) == []
    calls = []
    real = mm.search_block

    def counting(plan, first_trial, trials):
        calls.append((plan["decoder"], plan["cell"]["n"], first_trial, trials))
        return real(plan, first_trial, trials)

    from csbench.driver import KINDS

    monkeypatch.setitem(KINDS._entries, "minimal_m", dataclasses.replace(KINDS.get("minimal_m"), func=counting))
    df = run_sweep(sweep, tmp_path / "auto", progress=False)
    assert list(df["decoder"]) == ["matched_filter", "bp", "matched_filter", "bp"]
    assert calls == [("matched_filter", 16, 0, 5), ("basis_pursuit", 16, 0, 5),
                     ("matched_filter", 32, 0, 5), ("basis_pursuit", 32, 0, 5)]
    direct = mm.minimal_m("basis_pursuit", n=32, k=2, trials=5, n_jobs=1)
    assert df["m_star"].iloc[3] == direct.m_star and df["critical"].iloc[3] == direct.to_dict()["critical"]
    again = run_sweep(sweep, tmp_path / "auto", progress=False)   # resumes: nothing recomputed
    assert len(calls) == 5 and again.equals(df)
    with pytest.raises(ConfigError, match=r"key 'decoders': rule='median'"):  # refused when the sweep is built
        Sweep(decoders=[{"name": "matched_filter", "params": {"rule": "median"}}], n=16, k=2, m="auto", trials=2)
    bad = Sweep(decoders=[{"name": "amp", "params": {"denoiser": "bayes_binary"}}], n=16, k=16, m="auto", trials=2)
    with pytest.raises(ConfigError, match=r"key 'decoders\[0\]'.*density = k/n = 16/16"):  # before the search
        run_sweep(bad, progress=False)
    assert np.isfinite(df["m_star"]).all()


def test_auto_with_real_minimal_m(tmp_path):
    mm = pytest.importorskip("csbench.studies.minimal_m")
    sweep = Sweep(decoders="matched_filter", n=128, k=[2, 3], m="auto", trials=20, seed=4)
    df = run_sweep(sweep, tmp_path, progress=False)
    for k in (2, 3):
        direct = mm.minimal_m("matched_filter", n=128, k=k, trials=20, seed=4).to_dict()
        row = df[df.k == k].iloc[0]
        assert row.m_star == direct["m_star"] and row.critical == direct["critical"]
