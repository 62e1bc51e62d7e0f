import os

import pytest

# Keep BLAS single-threaded in tests: small matrices, 2 cores (see docs/architecture.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def experiment():
    """``experiment(name)``: ``experiments/<name>.py`` loaded as a module (the scripts are not a package)."""
    import importlib.util
    import pathlib

    def load(name):
        path = pathlib.Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture
def raising_decoder():
    """A registered test decoder ``_raises_above_12``: the matched filter for m <= 12, RuntimeError above."""
    from csbench import DECODERS

    @DECODERS.register("_raises_above_12", "test decoder: raises for m > 12")
    def _raises(A, Y, k):
        if A.shape[-2] > 12:
            raise RuntimeError("boom")
        return DECODERS.get("matched_filter").func(A, Y, k)

    yield "_raises_above_12"
    DECODERS._entries.pop("_raises_above_12")


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any decode, decoder call or search run fail: for checks that must raise before any work."""
    import dataclasses

    import csbench.decoders
    import csbench.driver
    from csbench import DECODERS

    def boom(*args, **kwargs):
        raise AssertionError("work started: a decoder or a search ran during validation")

    monkeypatch.setattr(csbench.decoders, "decode", boom)
    monkeypatch.setattr(csbench.driver, "run_searches", boom)
    for entry in list(DECODERS):
        monkeypatch.setitem(DECODERS._entries, entry.name, dataclasses.replace(entry, func=boom))


# CI (.ci/run) sets CSBENCH_SKIPLOG=path: the node ids of skipped tests (with the reason) are written
# there, so that after installing the optional extras exactly those tests can be run again.
_SKIPLOG = os.environ.get("CSBENCH_SKIPLOG")
if _SKIPLOG:
    _skipped = {}

    def _record(report):
        if report.skipped and not hasattr(report, "wasxfail"):
            lr = report.longrepr
            _skipped[report.nodeid] = lr[2] if isinstance(lr, tuple) else str(lr)

    def pytest_collectreport(report):  # a module-level pytest.importorskip skips the whole file
        _record(report)

    def pytest_runtest_logreport(report):
        _record(report)

    def pytest_sessionfinish(session):
        with open(_SKIPLOG, "w") as fh:
            fh.writelines(f"{nodeid}\t{' '.join(reason.split())}\n" for nodeid, reason in sorted(_skipped.items()))
