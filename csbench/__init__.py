"""csbench: benchmark compressed-sensing decoders.

n features, k of them active, stored as y = A x in m < n dimensions: which
decoders recover x, and how small can m be?

The public names below are imported lazily (PEP 562 module ``__getattr__``), so
``import csbench`` and the ``csbench`` command start in well under a second;
each name's module (numba kernels, SciPy, pandas) loads on first use.
"""
import importlib
import sys
import types

__version__ = "0.1.0"

#: public name -> submodule that defines it
_EXPORTS = {
    "ConfigError": "config", "DecoderSpec": "config", "MRange": "config", "Sweep": "config",
    "load_sweep": "config",
    "DECODERS": "decoders", "DecodeResult": "decoders", "STATUSES": "decoders", "decode": "decoders",
    "ENCODERS": "encoders", "coherence_stats": "encoders",
    "run_grid": "harness", "run_sweep": "harness", "run_task": "harness", "success_table": "harness",
    "score": "metrics", "wilson_interval": "metrics",
    "Cell": "problems", "Measurements": "problems", "Truth": "problems", "make_problem": "problems",
    "SIGNALS": "signals",
    "load_results": "store",
    "fit_constant": "fits", "fit_scaling": "fits", "logistic_fit": "fits", "quantile_ci": "fits",
    "MinimalMResult": "minimal_m", "m_star_table": "minimal_m", "minimal_m": "minimal_m",
    "minimal_m_table": "minimal_m",
    "MaximalKResult": "maximal_k", "maximal_k": "maximal_k",
    "write_report": "report",
    "load_matrix": "weights", "load_tensor": "weights", "tensor_names": "weights",
    "MLP": "mlp",
}
_SUBMODULES = {"theory"}


#: public functions named like the submodule that defines them
_SHADOWED = {"minimal_m", "maximal_k"}


class _Package(types.ModuleType):
    """Keeps ``csbench.minimal_m`` (and ``maximal_k``) the function once its submodule is imported.

    Importing ``csbench.minimal_m`` binds the package attribute ``minimal_m`` to the
    submodule; the eager ``from .minimal_m import minimal_m`` this package once had
    re-bound it to the function, which this keeps true under lazy imports.
    """

    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, types.ModuleType) and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "maximal_k", "MaximalKResult",
    "load_matrix", "load_tensor", "tensor_names", "MLP",
]
