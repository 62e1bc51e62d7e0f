"""csbench: benchmark compressed-sensing decoders.

n features, k of them active, stored as y = A x in m < n dimensions: which
decoders recover x, and how small can m be?

The public names below are imported lazily (PEP 562 module ``__getattr__``), so
``import csbench`` and the ``csbench`` command start in well under a second;
each name's module (numba kernels, SciPy, pandas) loads on first use.
"""
import importlib

__version__ = "0.1.0"

#: public name -> submodule that defines it
_EXPORTS = {
    "ConfigError": "config", "DecoderSpec": "config", "MRange": "config", "Sweep": "config",
    "load_sweep": "config",
    "DECODERS": "decoders", "DecodeResult": "decoders", "STATUSES": "decoders", "decode": "decoders",
    "ENCODERS": "encoders", "coherence_stats": "diagnostics",
    "run_grid": "harness", "run_sweep": "harness", "run_task": "harness", "success_table": "analysis",
    "score": "metrics", "wilson_interval": "metrics",
    "Cell": "problems", "Measurements": "problems", "Truth": "problems", "make_problem": "problems",
    "SIGNALS": "signals",
    "load_results": "store",
    "fit_constant": "fits", "fit_scaling": "fits", "logistic_fit": "fits", "quantile_ci": "fits",
    "MinimalMResult": "studies.minimal_m", "m_star_table": "analysis", "minimal_m": "studies.minimal_m",
    "minimal_m_table": "studies.minimal_m",
    "MaximalKResult": "studies.maximal_k", "maximal_k": "studies.maximal_k",
    "use_backend": "decoders.backend",
    "write_report": "report",
    "load_matrix": "tensors", "load_tensor": "tensors", "tensor_names": "tensors",
    "MLP": "real.mlp",
}
_SUBMODULES = {"theory"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module 'csbench' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)


__all__ = [
    "decode", "DECODERS", "DecodeResult", "STATUSES", "ENCODERS", "SIGNALS",
    "coherence_stats", "Cell", "Measurements", "Truth", "make_problem", "DecoderSpec",
    "run_grid", "run_task", "success_table", "score", "wilson_interval", "theory",
    "Sweep", "MRange", "ConfigError", "load_sweep", "run_sweep", "load_results",
    "minimal_m", "MinimalMResult", "minimal_m_table", "m_star_table", "quantile_ci", "logistic_fit",
    "fit_constant", "fit_scaling", "write_report",
    "maximal_k", "MaximalKResult", "use_backend",
    "load_matrix", "load_tensor", "tensor_names", "MLP",
]
