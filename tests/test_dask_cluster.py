"""`--scheduler` on an external dask cluster (scripts/dask_local_cluster.sh: a scheduler and two
single-threaded workers on 127.0.0.1): identical tables, a worker killed mid-run, KilledWorker.

Oracles: the serial in-process run (the cluster must reproduce it exactly, also after losing a
worker), and the task list of the study (every task stored exactly once).
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from csbench import cli  # noqa: E402
from csbench.executors import make_executor  # noqa: E402
from csbench.driver import run_searches, search_tasks
from csbench.harness import run_sweep  # noqa: E402
from csbench.studies.minimal_m import search_plan as mm_plan  # noqa: E402
from csbench.store import Store  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "dask_local_cluster.sh")
ROW_COLUMNS = ["search", "kind", "trial", "critical", "censored", "status", "n_evaluations", "n_not_ok",
               "nonmonotone", "checked", "statuses", "curve", "status_at_max", "rel_err_at_max",
               "wrong_at_max", "task"]
GRID_TOML = """name = "grid"
seed = 3
trials = 20
block = 10
n = 64
k = [2, 4]
m = [16, 32]

[[decoders]]
name = "matched_filter"

[[decoders]]
name = "omp"
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(*args):
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(address, client, folder)`` of a scheduler + 2 workers started by the script; stopped afterwards."""
    folder = str(tmp_path_factory.mktemp("cluster"))
    start = _script("start", "--nworkers", "2", "--port", str(_free_port()), "--dir", folder)
    try:
        assert start.returncode == 0, start.stderr
        address = start.stdout.split()[-1]
        assert address.startswith("tcp://127.0.0.1:")
        with distributed.Client(address, timeout=30) as client:
            yield address, client, folder
    finally:
        stop = _script("stop", "--dir", folder)
        assert stop.returncode == 0, stop.stderr


def _kill_study():
    """Searches of 24 tasks (~0.1 s each on an idle core): enough for a kill to land mid-run."""
    return [mm_plan("matched_filter", n=256, k=4, trials=160)[0],
            mm_plan("relu_readout", n=96, k=3, trials=80, m_max=90, activation="threshold")[0]]


def _search_table(run_dir):
    with sqlite3.connect(os.path.join(run_dir, "results.sqlite")) as con:
        return pd.read_sql("SELECT * FROM search_trials ORDER BY search, trial", con)


def test_script_cluster_pins_threads_and_checks_options(cluster):
    address, client, _ = cluster
    assert len(client.nthreads()) == 2 and set(client.nthreads().values()) == {1}

    def threads():  # nested: pickled by value (the cluster cannot import this test module)
        import numba
        from threadpoolctl import threadpool_info

        blas = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        return os.getpid(), numba.get_num_threads(), max(blas)

    pool, in_flight = make_executor(address=address)
    try:
        assert in_flight == 4 and pool.progress_info() == {"workers": 2}
        probes = {pool.submit(threads).result() for _ in range(6)}
    finally:
        pool.shutdown()
    assert {p[1:] for p in probes} == {(1, 1)}  # numba threads, BLAS threads in the task's thread
    bad = _script("start", "--nworkers", "0")
    assert bad.returncode == 2 and "--nworkers=0; allowed: an integer >= 1" in bad.stderr


def test_cli_through_scheduler_equals_serial(cluster, tmp_path, capsys):
    address, _, _ = cluster
    # minimal-m (search tasks) through --scheduler, progress bar on
    args = ["minimal-m", "--decoder", "matched_filter", "--n", "256", "--k", "4", "--trials", "40", "--json"]
    assert cli.main([*args, "--out", str(tmp_path / "mm"), "--scheduler", address]) == 0
    out, err = capsys.readouterr()
    assert "40/40" in err and "workers=2" in err  # the bar counted every trial, from both workers
    assert cli.main([*args, "--out", str(tmp_path / "mm1")]) == 0
    serial_out, _ = capsys.readouterr()
    drop = ("time",)
    assert ({k: v for k, v in json.loads(out).items() if k not in drop}
            == {k: v for k, v in json.loads(serial_out).items() if k not in drop})
    pd.testing.assert_frame_equal(_search_table(tmp_path / "mm"), _search_table(tmp_path / "mm1"))
    assert len(_search_table(tmp_path / "mm")) == 40
    # maximal-k
    args = ["maximal-k", "--decoder", "matched_filter", "--n", "128", "--m", "60", "--trials", "30", "--quiet"]
    assert cli.main([*args, "--out", str(tmp_path / "mk"), "--scheduler", address]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "mk1")]) == 0
    pd.testing.assert_frame_equal(_search_table(tmp_path / "mk"), _search_table(tmp_path / "mk1"))
    # a grid sweep (csbench run CONFIG --scheduler): 16 tasks, 160 trial rows
    cfg = tmp_path / "grid.toml"
    cfg.write_text(GRID_TOML)
    assert cli.main(["run", str(cfg), "--out", str(tmp_path / "grid"), "--scheduler", address, "--quiet"]) == 0
    serial = run_sweep(str(cfg), progress=False).drop(columns=["time"])
    with Store(str(tmp_path / "grid")) as store:
        assert store.count_tasks() == 16
        pd.testing.assert_frame_equal(store.trials().drop(columns=["time"]), serial)
    assert len(serial) == 160
    # an m = "auto" sweep (search tasks, one minimal-m row per cell and decoder)
    auto = tmp_path / "auto.toml"
    auto.write_text('name = "auto"\nseed = 4\ntrials = 20\nn = 96\nk = [2, 3]\nm = "auto"\n'
                    '[auto]\nm_max = 90\n[[decoders]]\nname = "matched_filter"\n')
    assert cli.main(["run", str(auto), "--out", str(tmp_path / "auto"), "--scheduler", address, "--quiet"]) == 0
    serial = run_sweep(str(auto), progress=False).drop(columns=["time"])
    with Store(str(tmp_path / "auto")) as store:
        pd.testing.assert_frame_equal(store.minimal_m().drop(columns=["time"]), serial)
    assert len(serial) == 2 and serial.m_star.notna().all()


def _worker_pids(client):
    return client.run(os.getpid)


def _kill_mid_run(client, run_dir, driver, pid_of=None):
    """Start ``driver`` in a thread; once a task is stored and a worker is busy, SIGKILL that worker
    (or the process ``pid_of(client)``)."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=driver()), daemon=True)
    thread.start()
    db = os.path.join(run_dir, "results.sqlite")
    pids = _worker_pids(client)  # asked beforehand: the kill follows the busy check at once
    deadline = time.monotonic() + 180  # a cold numba cache (fresh clone) compiles in each worker first
    while time.monotonic() < deadline:
        done = 0
        if os.path.exists(db):
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                try:
                    done = con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
                except sqlite3.OperationalError:  # schema not written yet
                    pass
        busy = [w for w, keys in client.processing().items() if keys] if done else []
        if busy:
            pid = (pids.get(busy[0]) or _worker_pids(client)[busy[0]]) if pid_of is None else pid_of(client)
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    else:
        pytest.fail("no task finished within 180 s")
    thread.join(300)
    assert not thread.is_alive()
    return outcome["result"], done, pid


def test_killing_a_worker_mid_run_loses_no_task(cluster, tmp_path, monkeypatch):
    address, client, _ = cluster
    plans = _kill_study()
    serial = run_searches(plans, jobs=1)
    writes = []
    original = Store.write_task

    def counting(self, task_key, *args, **kwargs):
        writes.append(task_key)
        return original(self, task_key, *args, **kwargs)

    monkeypatch.setattr(Store, "write_task", counting)
    run = str(tmp_path / "run")
    rows, done_at_kill, pid = _kill_mid_run(client, run, lambda: run_searches(plans, run, address=address))
    tasks = search_tasks(plans)
    assert len(tasks) == 24 and done_at_kill < len(tasks)
    assert sorted(writes) == sorted(t.key() for t in tasks)  # every task written exactly once
    for r, s in zip(rows, serial):
        pd.testing.assert_frame_equal(r[ROW_COLUMNS], s[ROW_COLUMNS])
    assert [len(r) for r in rows] == [160, 80]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the killed worker is gone (its nanny starts a new one)


def test_killed_worker_after_retries_is_a_clear_error(cluster, tmp_path, capsys):
    address, client, _ = cluster
    client.run_on_scheduler(_allowed_failures(0))  # give up on a task at its first dead worker
    try:
        run = str(tmp_path / "run")
        args = ["minimal-m", "--decoder", "matched_filter", "--n", "256", "--k", "4", "--trials", "300",
                "--quiet", "--out", run, "--scheduler", address]
        code, done_at_kill, _ = _kill_mid_run(client, run, lambda: cli.main(args))
    finally:
        client.run_on_scheduler(_allowed_failures(3))
    err = capsys.readouterr().err
    assert code == 2 and done_at_kill < 30
    assert err.startswith("csbench: error: dask workers died under a task 1 time(s) (the last was tcp://127.0.0.1:")
    assert "re-run the same command to resume" in err and "Traceback" not in err
    with Store(run) as store:
        assert 1 <= store.count_tasks() < 30  # the finished tasks are kept for the resume


def _allowed_failures(n):
    """A function setting the scheduler's ``allowed_failures`` (nested: pickled by value)."""
    def set_it(dask_scheduler):
        dask_scheduler.allowed_failures = n
    return set_it


def test_scheduler_dying_mid_run_is_a_clear_error(cluster, tmp_path, capsys):
    """Last: it kills the scheduler (the fixture's `stop` then ends the workers)."""
    address, client, folder = cluster
    run = str(tmp_path / "run")
    args = ["minimal-m", "--decoder", "matched_filter", "--n", "256", "--k", "4", "--trials", "300",
            "--quiet", "--out", run, "--scheduler", address]
    with open(os.path.join(folder, "pids")) as f:
        scheduler = int(f.readline())
    code, done_at_kill, _ = _kill_mid_run(client, run, lambda: cli.main(args), lambda _: scheduler)
    err = capsys.readouterr().err
    assert code == 2 and done_at_kill < 30
    assert err.splitlines()[-1] == ("csbench: error: a task was cancelled under the driver: the dask scheduler "
                                    "died, or the connection to it was lost. Finished tasks are stored: re-run "
                                    "the same command to resume.")
    with Store(run) as store:
        assert 1 <= store.count_tasks() < 30


def test_worker_lost_maps_only_infrastructure_failures():
    from concurrent.futures import CancelledError
    from concurrent.futures.process import BrokenProcessPool

    from csbench.executors import WorkerLost, worker_lost

    assert isinstance(worker_lost(BrokenProcessPool()), WorkerLost) and issubclass(WorkerLost, OSError)
    assert "dask scheduler died" in str(worker_lost(CancelledError()))
    assert worker_lost(ValueError("a bug")) is None and worker_lost(RuntimeError()) is None


def test_scheduler_without_workers_is_refused_after_the_worker_timeout(monkeypatch):
    from csbench import executors

    monkeypatch.setattr(executors, "WORKER_TIMEOUT", 1)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        t0 = time.monotonic()
        with pytest.raises(ConnectionError, match=r"has no workers: none joined within 1 s"):
            make_executor(address=empty.scheduler_address)
        assert time.monotonic() - t0 < 10
