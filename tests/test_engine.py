"""One driver, one store: searches on every executor, kill -9 and resume, and process hygiene.

Oracles: the serial in-process run (executors must reproduce it exactly), an
uninterrupted run (a killed-and-resumed run must end with its table), and the
process table in /proc (no worker may outlive its driver).
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import csbench
from csbench import maximal_k, minimal_m
from csbench.config import Sweep
from csbench.executors import cap_jobs
from csbench.driver import run_searches, search_key
from csbench.harness import run_sweep
from csbench.studies.minimal_m import search_plan
from csbench.store import RunDirError, Store, run_status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROW_COLUMNS = ["search", "kind", "trial", "critical", "censored", "status", "n_evaluations", "n_not_ok",
               "nonmonotone", "checked", "statuses", "curve", "task"]


def _plans():
    from csbench.studies.maximal_k import search_plan as mk_plan
    from csbench.studies.minimal_m import search_plan as mm_plan

    return [mm_plan("relu_readout", n=96, k=3, trials=14, m_max=90, activation="threshold")[0],  # search
            mm_plan("matched_filter", n=96, k=3, trials=12)[0],                                    # exact pass
            mk_plan("omp", n=96, m=40, trials=13, k_max=20)[0]]


def _same(rows, ref):
    for r, f in zip(rows, ref):
        pd.testing.assert_frame_equal(r[ROW_COLUMNS], f[ROW_COLUMNS])


def test_searches_identical_on_serial_threads_processes_and_dask():
    plans = _plans()
    serial = run_searches(plans, jobs=1)
    assert [len(r) for r in serial] == [14, 12, 13]
    assert serial[0].n_evaluations.sum() > 14 and serial[1].curve.notna().all()
    _same(run_searches(plans, jobs=2, executor="threads"), serial)
    _same(run_searches(plans, jobs=2, executor="processes"), serial)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        _same(run_searches(plans, address=cluster.scheduler_address), serial)
    # the public functions on top: the same per-trial critical m / k whatever the executor
    r1 = minimal_m("relu_readout", n=96, k=3, trials=14, m_max=90, activation="threshold", n_jobs=1)
    np.testing.assert_array_equal(r1.critical, serial[0].critical)
    r2 = maximal_k("omp", n=96, m=40, trials=13, k_max=20, n_jobs=2)
    np.testing.assert_array_equal(r2.critical, serial[2].critical)


def test_auto_sweep_uses_the_driver_and_equals_minimal_m(tmp_path):
    sweep = Sweep(decoders=["matched_filter", {"name": "relu_readout", "params": {"activation": "threshold"}}],
                  n=96, k=3, m="auto", trials=12, seed=4, auto={"m_max": 90})
    df = run_sweep(sweep, tmp_path / "run", progress=False)
    for name, params in (("matched_filter", {}), ("relu_readout", {"activation": "threshold"})):
        r = minimal_m(name, n=96, k=3, trials=12, seed=4, m_max=90, n_jobs=1, **params)
        row = df[df.decoder == name].iloc[0]
        assert row.m_star == r.m_star and row.critical == r.to_dict()["critical"]
    st = run_status(tmp_path / "run")  # 2 searches x 2 blocks of <= 10 trials
    assert (st["tasks_done"], st["tasks_total"], st["trials_done"], st["trials_total"]) == (4, 4, 24, 24)
    assert st["searches_done"] == 2 and sum(st["by_status"].values()) == 24


def test_report_of_an_unfinished_auto_sweep_summarises_the_finished_trials(tmp_path):
    """An ``m = "auto"`` run killed before its summaries are written still reports m* per search."""
    from csbench.harness import partial_minimal_m
    from csbench.report import write_report

    sweep = Sweep(decoders=["matched_filter", "omp"], n=96, k=3, m="auto", trials=12, seed=4, auto={"m_max": 90})
    run = tmp_path / "run"
    df = run_sweep(sweep, run, progress=False)
    part = partial_minimal_m(run)  # finished run: the same numbers as the stored summaries
    for c in ("decoder", "m_star", "ci_low", "ci_high"):
        assert list(part[c]) == list(df[c])
    assert list(part["trials_done"]) == [12, 12]
    # unfinished: drop OMP's last task (trials 10-11) and every summary, as a run killed there leaves it
    with sqlite3.connect(run / "results.sqlite") as c:
        task = c.execute("SELECT task FROM search_trials WHERE trial = 11 ORDER BY rowid DESC").fetchone()[0]
        for table in ("search_trials", "tasks"):
            c.execute(f"DELETE FROM {table} WHERE task = ?", (task,))
        c.execute("DELETE FROM minimal_m")
    part = partial_minimal_m(run)
    assert list(part["trials_done"]) == [12, 10] and part["m_star"].iloc[0] == df["m_star"].iloc[0]
    omp10 = minimal_m("omp", n=96, k=3, trials=10, seed=4, m_max=90, n_jobs=1)  # trials 0-9 are the same problems
    assert part["m_star"].iloc[1] == omp10.m_star
    text = open(write_report(run)).read()
    assert "incomplete run: 3 of 4 tasks" in text and "| trials_done |" in text
    assert f"| omp | gaussian | binary | 96 | 3 | 12 | 10 | {int(omp10.m_star)} |" in text


def _count(db, sql="SELECT COUNT(*) FROM tasks"):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:  # never creates it
            return c.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


# long enough (40 tasks of 10 trials) that the driver is still running when the test signals it
SEARCH_CMD = ["minimal-m", "--decoder", "basis_pursuit", "--n", "128", "--k", "4", "--trials", "400",
              "--seed", "3", "--quiet", "--json"]


def test_sigkill_mid_search_then_resume_equals_uninterrupted(tmp_path):
    out = tmp_path / "run"
    db = str(out / "results.sqlite")
    cmd = [sys.executable, "-m", "csbench", "minimal-m", "--decoder", "basis_pursuit", "--n", "128", "--k", "4",
           "--trials", "40", "--seed", "3", "--quiet", "--json", "--out", str(out)]  # 4 tasks of 10 trials
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _count(db) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, f"search ended before the kill: {proc.communicate()[1].decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _count(db)
    assert 1 <= done < 4 and _count(db, "SELECT COUNT(*) FROM search_trials") == 10 * done
    res = subprocess.run(cmd + ["--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    plan = search_plan("basis_pursuit", n=128, k=4, trials=40, seed=3)[0]
    with Store(out, readonly=True) as st:
        resumed = st.search_trials(search_key(plan))
        assert st.count_tasks() == 4
    fresh = run_searches([plan], jobs=1)[0]  # uninterrupted, in memory
    assert len(resumed) == 40 and not resumed.duplicated(["trial"]).any()
    _same([resumed], [fresh])


# --------------------------------------------------------------------------- processes (issue 10)
def _children(pid):
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_workers_die_with_their_driver(tmp_path, sig):
    cmd = [sys.executable, "-m", "csbench", *SEARCH_CMD, "--jobs", "2", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = str(tmp_path / "run" / "results.sqlite")
    deadline = time.time() + 120
    while _count(db) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = [p for p in _children(proc.pid) if _alive(p)]
    assert proc.poll() is None and len(workers) >= 2, workers  # the pool's workers (+ resource tracker)
    os.kill(proc.pid, sig)
    proc.wait()
    deadline = time.time() + 10
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert [p for p in workers if _alive(p)] == []  # none alive 10 s after the driver died


def test_jobs_above_core_count_capped_with_message(capsys):
    cores = os.cpu_count() or 1
    assert cap_jobs(cores + 498) == cores
    assert f"using {cores} workers" in capsys.readouterr().err
    assert cap_jobs(1) == 1 and capsys.readouterr().err == ""


def test_lock_names_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from csbench.store import Store; "
                               "s = Store(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
                               str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=f"in use by pid {holder.pid} on host "):
            run_sweep(Sweep(decoders=["matched_filter"], n=20, k=2, m=[8], trials=2), tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (even by SIGKILL): the directory is free again
    run_sweep(Sweep(decoders=["matched_filter"], n=20, k=2, m=[8], trials=2), tmp_path, progress=False)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, jobs):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "csbench", *SEARCH_CMD, "--jobs", jobs, "--out", str(out)]
    # SIGINT at its default in the child: a test run launched as a background job of a non-interactive
    # shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt (the run would exit 0).
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db = str(out / "results.sqlite")
    deadline = time.time() + 120
    while _count(db) < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    saved = _count(db)
    assert err.strip().splitlines()[-1] == f"interrupted: {saved} tasks saved; run the same command to resume"
    assert "Traceback" not in err and saved >= 1


def test_damaged_or_empty_database_is_named(tmp_path):
    sweep = Sweep(decoders=["matched_filter"], n=20, k=2, m=[8, 9], trials=4, block=2)
    run_sweep(sweep, tmp_path / "good", progress=False)
    db = tmp_path / "good" / "results.sqlite"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.sqlite").write_bytes(b"")  # a run killed before its first write
    with pytest.raises(RunDirError, match=r"empty \(0 bytes\): the run holds no results yet"):
        csbench.load_results(tmp_path / "empty")
    fresh = run_sweep(sweep, tmp_path / "empty", progress=False)  # nothing to lose: it runs afresh
    good = run_sweep(sweep, tmp_path / "good", progress=False)
    pd.testing.assert_frame_equal(fresh.drop(columns="time"), good.drop(columns="time"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "results.sqlite").write_bytes(b"not a database" * 500)
    with pytest.raises(RunDirError, match="junk/results.sqlite is not a readable csbench results database"):
        csbench.load_results(tmp_path / "junk")
    (tmp_path / "cut").mkdir()
    data = db.read_bytes()
    (tmp_path / "cut" / "results.sqlite").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunDirError, match="truncated"):
        run_sweep(sweep, tmp_path / "cut", progress=False)


def test_huge_trial_count_refused_up_front(tmp_path):
    cfg = tmp_path / "huge.toml"
    cfg.write_text('trials = 1000000000\nn = 20\nk = 2\nm = [8]\n[[decoders]]\nname = "matched_filter"\n')
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="expands into 20000000 tasks, more than the 200000"):
        run_sweep(str(cfg), tmp_path / "run", progress=False)
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ValueError, match="expands into 100000000 tasks"):
        minimal_m("matched_filter", n=20, k=2, trials=1_000_000_000)


def test_minimal_m_cli_shows_progress_over_trials(capsys):
    from csbench.cli import main

    assert main(["minimal-m", "--decoder", "matched_filter", "--n", "96", "--k", "3", "--trials", "23"]) == 0
    err = capsys.readouterr().err
    assert "23/23" in err and "trial" in err


def test_decoder_exception_in_a_search_is_recorded(raising_decoder):
    with pytest.warns(RuntimeWarning, match=r"4 of 4 trials raised an error \(first error: RuntimeError: boom\)"):
        r = minimal_m(raising_decoder, n=30, k=1, trials=4, m_max=30, m_start=20, n_jobs=1)
    assert r.errors == ["RuntimeError: boom"] and r.status_counts == {"error": 4}
    assert np.isinf(r.critical).all() and r.n_censored == 0 and r.m_star == np.inf
    assert r.censored_reason.startswith("4 of 4 trials raised an error") and "raise m_max" not in r.censored_reason
