"""csbench: benchmark compressed-sensing decoders.

n features, k of them active, stored as y = A x in m < n dimensions: which
decoders recover x, and how small can m be?
"""
from . import theory
from .config import ConfigError, DecoderSpec, MRange, Sweep, load_sweep
from .decoders import DECODERS, DecodeResult, STATUSES, decode
from .encoders import ENCODERS, coherence_stats
from .harness import run_grid, run_sweep, run_task, success_table
from .metrics import score, wilson_interval
from .problems import Cell, Measurements, Truth, make_problem
from .signals import SIGNALS
from .store import load_results
from .fits import fit_constant, fit_scaling, logistic_fit, quantile_ci
from .minimal_m import MinimalMResult, m_star_table, minimal_m, minimal_m_table
from .maximal_k import MaximalKResult, maximal_k
from .report import write_report
from .weights import load_matrix, load_tensor, tensor_names
from .mlp import MLP

__version__ = "0.1.0"

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
