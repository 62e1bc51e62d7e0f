"""run_sweep: resume after SIGKILL, independence of workers/block size, error rows."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from csbench import Cell, DecoderSpec, run_task
from csbench.config import Sweep
from csbench.harness import execute_task, expand, run_sweep
from csbench.store import load_results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALUE_COLUMNS = ["encoder", "signal", "n", "k", "noise", "m", "decoder", "trial", "status", "n_iter",
                 "exact", "support", "n_wrong", "n_false_pos", "n_false_neg", "rel_err",
                 "decoder_name", "decoder_params", "encoder_params", "signal_params"]

SMALL = dict(decoders=["matched_filter", {"name": "basis_pursuit", "label": "bp"}],
             n=[40], k=[2, 5], m=[10, 20], trials=9, seed=11)


def values(df):
    """Everything but wall time and task keys (task keys depend on the block size)."""
    return df[VALUE_COLUMNS].reset_index(drop=True)


def test_sweep_equals_run_task_oracle_and_block_size_is_irrelevant():
    df = run_sweep(Sweep(**SMALL, block=4), progress=False)
    # Oracle: one run_task per (cell, m, decoder) over all 9 trials, in grid order.
    parts = []
    for n, k, m, spec in [(40, k, m, s) for k in (2, 5) for m in (10, 20)
                          for s in (DecoderSpec("matched_filter"), DecoderSpec("basis_pursuit", label="bp"))]:
        parts.append(run_task(Cell("gaussian", "binary", n, k), m, spec, 11, 0, 9))
    oracle = pd.concat(parts, ignore_index=True)
    cols = [c for c in oracle.columns if c != "time"]
    pd.testing.assert_frame_equal(df[cols].reset_index(drop=True), oracle[cols])
    assert len(df) == 2 * 2 * 2 * 9 and not df.duplicated(["decoder", "k", "m", "trial"]).any()
    # basis pursuit at k=2, m=20 (n=40) recovers most trials; matched filter at k=5, m=10 none
    assert df.query("decoder == 'bp' and k == 2 and m == 20").exact.mean() >= 0.7
    assert not df.query("decoder == 'matched_filter' and k == 5 and m == 10").exact.any()
    for block in (1, 9):
        other = run_sweep(Sweep(**SMALL, block=block), progress=False)
        pd.testing.assert_frame_equal(values(other), values(df))


def test_one_and_two_workers_identical(tmp_path):
    sweep = Sweep(**SMALL, block=5)
    serial = run_sweep(sweep, progress=False)
    pooled = run_sweep(sweep, tmp_path / "run", jobs=2, progress=False)
    pd.testing.assert_frame_equal(values(pooled), values(serial))
    assert list(pooled["task"]) == list(serial["task"])
    pd.testing.assert_frame_equal(load_results(tmp_path / "run"), pooled)


KILL_TOML = """
name = "kill"
seed = 5
trials = 12
block = 2
n = 48
k = [3, 6]
m = {{start = 12, stop = 40, step = 2, spacing = "linear"}}

[[decoders]]
name = "basis_pursuit"

[[decoders]]
name = "matched_filter"
params = {{rule = "topk"}}
"""


def _count(db, table):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:  # never creates it
            return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_sigkill_and_resume_equals_uninterrupted_run(tmp_path):
    cfg = tmp_path / "kill.toml"
    cfg.write_text(KILL_TOML.format())
    out = tmp_path / "run"
    db = str(out / "results.sqlite")
    cmd = [sys.executable, "-m", "csbench", "run", str(cfg), "--out", str(out), "--quiet"]
    total = len(expand(Sweep.from_dict(__import__("tomllib").loads(KILL_TOML.format()))))  # 2 k * 15 m * 2 decoders * 6 blocks
    assert total == 360
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while _count(db, "tasks") < 40 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"run ended before the kill: {proc.communicate()[1].decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = _count(db, "tasks")
    assert 40 <= done < total, f"kill came too late or too early ({done} of {total} tasks)"
    # Only whole tasks are stored: 2 trials per committed task, no more, no less.
    assert _count(db, "trials") == 2 * done
    # Resume (with two workers this time) and compare with an uninterrupted in-process run.
    res = subprocess.run(cmd + ["--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    resumed = load_results(out)
    fresh = run_sweep(str(cfg), progress=False)
    assert len(resumed) == 360 * 2 and not resumed.duplicated(["decoder", "k", "m", "trial"]).any()
    pd.testing.assert_frame_equal(values(resumed), values(fresh))
    assert list(resumed["task"]) == list(fresh["task"])
    assert (out / "config.toml").read_text() == cfg.read_text()


def test_decoder_exception_recorded_as_error_rows(raising_decoder):
    df = run_sweep(Sweep(decoders=[raising_decoder], n=30, k=3, m=[12, 20], trials=4, block=4), progress=False)
    ok, bad = df[df.m == 12], df[df.m == 20]
    assert (ok.status == "ok").all() and (bad.status == "error").all()
    # error rows are scored as x_hat = 0: k=3 binary -> 3 false negatives, rel_err exactly 1
    assert (bad.n_false_neg == 3).all() and (bad.n_false_pos == 0).all()
    np.testing.assert_array_equal(bad.rel_err, 1.0)
    assert not bad.exact.any()


def test_execute_task_rows_have_params():
    task = expand(Sweep(decoders=[{"name": "matched_filter", "params": {"threshold": 0.4}}], n=20, k=2,
                        m=[8], trials=3, block=3))[0]
    rows, error = execute_task(task)
    assert error is None and len(rows) == 3
    assert rows.decoder_params.iloc[0] == '{"normalize":false,"rule":"threshold","threshold":0.4}'
    assert rows.signal_params.iloc[0] == '{"alpha":1.0,"profile":"uniform"}'


def test_different_sweep_into_same_directory_refused(tmp_path):
    run_sweep(Sweep(**SMALL, block=9), tmp_path, progress=False)
    with pytest.raises(ValueError, match="holds a different sweep"):
        run_sweep(Sweep(**SMALL, block=3), tmp_path, progress=False)


def test_dask_executor_identical(tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep = Sweep(**SMALL, block=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        df = run_sweep(sweep, tmp_path, address=cluster.scheduler_address, progress=False)
    pd.testing.assert_frame_equal(values(df), values(run_sweep(sweep, progress=False)))
