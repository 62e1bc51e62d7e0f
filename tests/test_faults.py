"""Faults, integrity and strict inputs (issue 18, items 10, 12 and 13)."""

import sqlite3

import numpy as np
import pytest

import csbench
from csbench.config import ConfigError, Sweep
from csbench.harness import run_sweep


# --------------------------------------------------------------------------- item 13: strict booleans
@pytest.mark.parametrize("study, kw", [("minimal_m", {"k": 2}), ("maximal_k", {"m": 20})])
@pytest.mark.parametrize("value", ["yes", 2, None])
def test_check_monotone_must_be_a_boolean(study, kw, value):
    with pytest.raises(TypeError, match=rf"check_monotone must be True or False, got {value!r}"):
        getattr(csbench, study)("lasso", n=32, trials=2, check_monotone=value, **kw)


@pytest.mark.parametrize("kw, exc, msg", [
    ({"progress": "no"}, TypeError, "progress must be True or False, got 'no'"),
    ({"progress": 1}, TypeError, "progress must be True or False, got 1"),
    ({"executor": "thread"}, ValueError, r"executor='thread' is not one of \['processes', 'threads'\]"),
])
def test_run_options_are_checked_before_work(kw, exc, msg, monkeypatch):
    import csbench.decoders

    monkeypatch.setattr(csbench.decoders, "decode", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(exc, match=msg):
        csbench.minimal_m("lasso", n=32, k=2, trials=2, **kw)


def test_sweep_progress_must_be_a_boolean():
    with pytest.raises(TypeError, match="progress must be True or False, got 'no'"):
        run_sweep(Sweep(decoders=["matched_filter"], n=20, k=2, m=[8], trials=2), progress="no")


@pytest.mark.parametrize("value", ['"yes"', "2"])
def test_toml_auto_check_monotone_must_be_a_boolean(tmp_path, value):
    p = tmp_path / "s.toml"
    p.write_text(f'name = "s"\nn = 32\nk = 2\nm = "auto"\ntrials = 2\ndecoders = ["lasso"]\n'
                 f'[auto]\ncheck_monotone = {value}\n')
    with pytest.raises(ConfigError, match=r"key 'auto.check_monotone': check_monotone must be True or False, "
                                          rf"got {value.strip(chr(34))!r}".replace("'2'", "2")):
        csbench.config.load_sweep(p)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "header"])
def test_malformed_safetensors_one_line_with_the_path(tmp_path, damage):
    pytest.importorskip("safetensors")
    from safetensors.numpy import save_file

    from csbench.tensors import load_tensor

    good = tmp_path / "good.safetensors"
    save_file({"W": np.ones((4, 5))}, str(good))
    data = good.read_bytes()
    bad = tmp_path / f"{damage}.safetensors"
    bad.write_bytes({"truncated": data[:len(data) // 2], "garbage": bytes(range(256)) * 3, "empty": b"",
                     "header": data[:60]}[damage])
    with pytest.raises(ValueError, match=rf"path='{bad}': not a readable .safetensors file \(.+\)") as info:
        load_tensor(bad)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(load_tensor(good), np.ones((4, 5)))


# --------------------------------------------------------------------------- item 10: faults
def _fail_once(monkeypatch, module, exc, when=lambda A: True):
    """Make ``module.decode`` raise ``exc`` on the calls ``when(A)`` accepts, for as long as the patch lives."""
    real = module.decode
    calls = []

    def decode(name, A, Y, **kw):
        calls.append(name)
        if when(A):
            raise exc
        return real(name, A, Y, **kw)

    monkeypatch.setattr(module, "decode", decode)
    return calls


def _table(df):
    return df.drop(columns=["time"]).reset_index(drop=True)


SWEEP = dict(decoders=["lasso"], n=24, k=2, m=[8, 12, 16], trials=4, block=2)


def test_transient_failure_of_a_sweep_task_is_retried_on_resume(tmp_path, monkeypatch):
    import csbench.harness as harness
    from csbench.driver import TransientFailures

    with monkeypatch.context() as mp:  # MemoryError at m = 12 only (the dry run at m = 8 passes)
        _fail_once(mp, harness, MemoryError("out of memory"), lambda A: A.shape[-2] == 12)
        with pytest.raises(TransientFailures, match=r"^2 tasks failed for a transient reason \(MemoryError: out "
                                                    r"of memory\): run the same command again to retry them"):
            run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
    assert set(csbench.store.load_results(tmp_path / "run")["m"]) == {8, 16}  # nothing stored for m = 12
    resumed = run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
    fresh = run_sweep(Sweep(**SWEEP), tmp_path / "fresh", progress=False)
    assert len(resumed) == 3 * 4 and (resumed["status"] != "error").all()
    pd_testing().assert_frame_equal(_table(resumed), _table(fresh))


def pd_testing():
    import pandas.testing

    return pandas.testing


@pytest.mark.parametrize("exc", [MemoryError(), KeyboardInterrupt(), OSError(12, "Cannot allocate memory")])
def test_transient_failure_of_a_search_block_is_retried_on_resume(tmp_path, monkeypatch, exc):
    import csbench.decoders
    from csbench.driver import TransientFailures

    from csbench.executors import _threads_safe

    if isinstance(exc, KeyboardInterrupt) and not _threads_safe():  # serial fallback: Ctrl-C in the driver itself
        pytest.skip("numba's threading layer does not allow worker threads here")
    kw = dict(n=32, k=2, trials=6, seed=3, executor="threads", n_jobs=2)
    with monkeypatch.context() as mp:
        first = []
        _fail_once(mp, csbench.decoders, exc, lambda A: not first and not first.append(1))
        with pytest.raises(TransientFailures, match=rf"^1 task failed for a transient reason \({type(exc).__name__}"):
            csbench.minimal_m("lasso", out=tmp_path / "run", **kw)
    resumed = csbench.minimal_m("lasso", out=tmp_path / "run", **kw)
    fresh = csbench.minimal_m("lasso", **kw)
    assert resumed.errors == [] and np.isfinite(resumed.m_star)
    np.testing.assert_array_equal(resumed.critical, fresh.critical)
    assert resumed.m_star == fresh.m_star


def test_deterministic_failure_is_stored_with_its_reason_and_kept(tmp_path, monkeypatch):
    import csbench.harness as harness

    sweep = Sweep(**SWEEP)
    with monkeypatch.context() as mp:
        _fail_once(mp, harness, np.linalg.LinAlgError("singular matrix"), lambda A: A.shape[-2] == 12)
        with pytest.warns(RuntimeWarning, match=r"2 task\(s\) failed with a deterministic error, stored as status "
                                                r"'error' with its reason .*LinAlgError: singular matrix"):
            df = run_sweep(sweep, tmp_path / "run", progress=False)
    assert (df.loc[df["m"] == 12, "status"] == "error").all() and (df.loc[df["m"] != 12, "status"] != "error").all()
    calls = _fail_once(monkeypatch, harness, AssertionError("recomputed"), lambda A: True)
    again = run_sweep(sweep, tmp_path / "run", progress=False)  # the stored failure is a result: nothing reruns
    assert calls == ["lasso"]  # the dry run only
    pd_testing().assert_frame_equal(_table(again), _table(df))
    assert csbench.store.run_status(tmp_path / "run")["errors"] == ["LinAlgError: singular matrix"]


def test_a_transient_error_stored_by_an_older_version_is_recomputed(tmp_path):
    sweep = Sweep(**SWEEP)
    fresh = run_sweep(sweep, tmp_path / "run", progress=False)
    db = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    with db:  # what an older csbench stored for a task that ran out of memory
        task = db.execute("SELECT task FROM tasks ORDER BY idx LIMIT 1").fetchone()[0]
        db.execute("UPDATE tasks SET error = 'MemoryError: ' WHERE task = ?", (task,))
        db.execute("DELETE FROM trials WHERE task = ?", (task,))
    db.close()
    resumed = run_sweep(sweep, tmp_path / "run", progress=False)
    pd_testing().assert_frame_equal(_table(resumed), _table(fresh))


def test_a_locked_directory_is_refused_before_validation_or_dry_run(tmp_path, monkeypatch):
    import time

    import csbench.harness as harness
    from csbench.store import RunDirError, run_lock

    calls = _fail_once(monkeypatch, harness, AssertionError("decoded"), lambda A: True)
    monkeypatch.setattr(harness, "check_decoders", lambda s: pytest.fail("validated before taking the lock"))
    lock = run_lock(tmp_path / "run")
    try:
        t0 = time.perf_counter()
        with pytest.raises(RunDirError, match="is in use by pid"):
            run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
        assert time.perf_counter() - t0 < 1.0 and calls == []
    finally:
        lock.release()


def test_interrupt_message_counts_the_tasks_of_every_search_of_the_command(tmp_path, capsys):
    from csbench.cli import _interrupted, main

    out = tmp_path / "run"
    args = ["minimal-m", "--decoder", "matched_filter", "--n", "48", "--k", "2", "3", "--trials", "24",
            "--quiet", "--out", str(out)]
    assert main(args) == 0  # several k into one directory: one command, several searches
    first = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in first] == ["matched_filter n=48 k=2", "matched_filter n=48 k=3"]
    saved = csbench.store.count_saved(out)
    assert saved == 2 * 3  # 24 trials in blocks of 10, per search
    assert _interrupted(KeyboardInterrupt(), out) == 130  # e.g. Ctrl-C while the second k was being planned
    assert capsys.readouterr().err.strip() == f"interrupted: {saved} tasks saved; run the same command to resume"
    assert main(args) == 0  # the same command resumes: both searches are read back, nothing recomputed
    again = capsys.readouterr().out.splitlines()
    assert [line.rsplit(",", 1)[0] for line in again] == [line.rsplit(",", 1)[0] for line in first]
    assert csbench.store.count_saved(out) == saved


# --------------------------------------------------------------------------- item 12: integrity
def _sql(db, *statements):
    conn = sqlite3.connect(db)
    with conn:
        for st in statements:
            conn.execute(st)
    conn.close()


def test_a_value_changed_behind_the_store_is_named_and_not_exported(tmp_path):
    from csbench.store import DamagedRowError, export

    run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
    db = tmp_path / "run" / "results.sqlite"
    task = sqlite3.connect(db).execute("SELECT task FROM tasks ORDER BY idx LIMIT 1").fetchone()[0]
    export(tmp_path / "run", path=tmp_path / "before.csv")
    _sql(db, f"UPDATE trials SET exact = 1 - exact WHERE task = '{task}' AND trial = 1")
    with pytest.raises(DamagedRowError, match=rf"1 damaged row\(s\) in table trials \(task '{task}', trial 1\)"):
        export(tmp_path / "run", path=tmp_path / "after.csv")
    assert not (tmp_path / "after.csv").exists()


def test_status_verify_checks_every_row(tmp_path, capsys):
    from csbench.cli import main

    run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
    db = tmp_path / "run" / "results.sqlite"
    n_tasks, n_trials = (sqlite3.connect(db).execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                         for t in ("tasks", "trials"))
    assert main(["status", str(tmp_path / "run"), "--verify"]) == 0
    assert (f"verify  {n_tasks + n_trials} rows intact (tasks {n_tasks}, trials {n_trials}, search_trials 0, "
            "minimal_m 0)") in capsys.readouterr().out
    _sql(db, "UPDATE tasks SET elapsed = elapsed + 1 WHERE rowid = 2")
    assert main(["status", str(tmp_path / "run")]) == 0  # without --verify: counts only
    assert main(["status", str(tmp_path / "run"), "--verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("csbench: error: ") and "1 damaged row(s) in table tasks (task '" in err
    assert len(err.strip().splitlines()) == 1


def test_a_flipped_byte_in_the_database_file_is_detected_on_export(tmp_path):
    from csbench.store import DamagedRowError, export

    run_sweep(Sweep(**SWEEP), tmp_path / "run", progress=False)
    db = tmp_path / "run" / "results.sqlite"
    data = bytearray(db.read_bytes())
    at = data.rfind(b"\"max_iter\":10000")  # inside a stored row's decoder parameters (text), not in the page structure
    assert at > 0
    data[at + 1] ^= 0x01
    db.write_bytes(bytes(data))
    with pytest.raises(DamagedRowError, match=r"damaged row\(s\) in table (trials|tasks) \(task '[0-9a-f]+'"):
        export(tmp_path / "run", path=tmp_path / "out.csv")


def test_a_damaged_search_row_is_named(tmp_path):
    from csbench.driver import load_search_results
    from csbench.store import DamagedRowError

    csbench.minimal_m("matched_filter", n=48, k=2, trials=12, out=tmp_path / "s")
    _sql(tmp_path / "s" / "results.sqlite", "UPDATE search_trials SET critical = critical - 1 WHERE trial = 11")
    with pytest.raises(DamagedRowError, match=r"table search_trials \(task '[0-9a-f]+', trial 11\)"):
        load_search_results(tmp_path / "s")
    with pytest.raises(DamagedRowError, match="trial 11"):
        csbench.minimal_m("matched_filter", n=48, k=2, trials=12, out=tmp_path / "s")  # resume reads the rows


@pytest.mark.parametrize("table", ["trials", "tasks", "search_trials", "minimal_m"])
def test_a_dropped_table_is_refused_on_status_and_resume(tmp_path, table, capsys):
    from csbench.cli import main
    from csbench.store import RunDirError, run_status

    sweep = Sweep(**SWEEP)
    run_sweep(sweep, tmp_path / "run", progress=False)
    _sql(tmp_path / "run" / "results.sqlite", f"DROP TABLE {table}")
    msg = rf"results.sqlite is damaged: table\(s\) \['{table}'\] are missing \(store schema 3\)"
    with pytest.raises(RunDirError, match=msg):
        run_status(tmp_path / "run")
    with pytest.raises(RunDirError, match=msg):
        run_sweep(sweep, tmp_path / "run", progress=False)
    assert main(["status", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged" in err


def test_a_store_of_the_previous_schema_is_read_and_sealed_on_resume(tmp_path):
    from csbench.store import DamagedRowError, load_results

    sweep = Sweep(**SWEEP)
    fresh = run_sweep(sweep, tmp_path / "run", progress=False)
    db = tmp_path / "run" / "results.sqlite"
    _sql(db, *[f"ALTER TABLE {t} DROP COLUMN checksum" for t in ("tasks", "trials", "search_trials", "minimal_m")],
         "UPDATE meta SET value = '2' WHERE key = 'schema'")  # what csbench wrote before checksums
    pd_testing().assert_frame_equal(load_results(tmp_path / "run"), fresh)  # readable (not verified)
    resumed = run_sweep(sweep, tmp_path / "run", progress=False)  # upgrades: checksums of the stored rows
    pd_testing().assert_frame_equal(resumed, fresh)
    _sql(db, "UPDATE trials SET rel_err = 0.5 WHERE trial = 0")
    with pytest.raises(DamagedRowError):
        load_results(tmp_path / "run")


@pytest.mark.parametrize("damage", ["other_seed", "other_spec", "nan", "garbage"])
def test_toy_cache_checks_spec_seed_and_finite_weights(tmp_path, damage):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from csbench.toy import ToySpec, instance_seeds, train
    from csbench.toy.training import instance_key

    spec = ToySpec(n=6, m=3, family="tied", activation="relu", p=0.2, steps=30, batch=16)
    seeds = instance_seeds(5, 2)
    fresh = train(spec, seeds, use_cache=False, progress=False)
    train(spec, seeds, cache=tmp_path, progress=False)
    target = tmp_path / f"{instance_key(spec, seeds[1])}.safetensors"
    if damage == "other_seed":  # another seed's file under this instance's key
        target.write_bytes((tmp_path / f"{instance_key(spec, seeds[0])}.safetensors").read_bytes())
        why = "it was trained for seed"
    elif damage == "other_spec":
        other = spec.replace(p=0.5)
        train(other, seeds[1:], cache=tmp_path, progress=False)
        target.write_bytes((tmp_path / f"{instance_key(other, seeds[1])}.safetensors").read_bytes())
        why = "it was trained for another spec"
    elif damage == "nan":
        import dataclasses

        bad = dataclasses.replace(fresh[1], params={**fresh[1].params, "W": np.full_like(fresh[1].params["W"], np.nan)})
        bad.save(target)
        why = r"its weights \['W'\] are not finite"
    else:
        target.write_bytes(b"\0" * 40)
        why = "it cannot be read"
    with pytest.warns(RuntimeWarning, match=rf"toy cache file '{target}' is not used: {why}.*retraining"):
        got = train(spec, seeds, cache=tmp_path, progress=False)
    assert got[0].from_cache and not got[1].from_cache
    np.testing.assert_array_equal(got[1].params["W"], fresh[1].params["W"])
    again = train(spec, seeds, cache=tmp_path, progress=False)  # the file was replaced by the right instance
    assert again[1].from_cache
    np.testing.assert_array_equal(again[1].params["W"], fresh[1].params["W"])
