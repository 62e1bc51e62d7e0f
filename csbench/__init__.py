"""csbench: benchmark compressed-sensing decoders.

n features, k of them active, stored as y = A x in m < n dimensions: which
decoders recover x, and how small can m be?
"""
from . import theory
from .config import DecoderSpec
from .decoders import DECODERS, DecodeResult, STATUSES, decode
from .encoders import ENCODERS, coherence_stats
from .harness import run_grid, run_task, success_table
from .metrics import score, wilson_interval
from .problems import Cell, Measurements, Truth, make_problem
from .signals import SIGNALS

__version__ = "0.1.0"

__all__ = [
    "decode", "DECODERS", "DecodeResult", "STATUSES", "ENCODERS", "SIGNALS",
    "coherence_stats", "Cell", "Measurements", "Truth", "make_problem", "DecoderSpec",
    "run_grid", "run_task", "success_table", "score", "wilson_interval", "theory",
]
