"""Decoders: a registry of batched sparse-recovery algorithms and :func:`decode`.

Each family lives in its own module and registers itself in
:data:`~csbench.decoders.base.DECODERS`; numba kernels live in
``csbench.kernels``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_finite_array, check_int
from .base import DECODERS, NONFINITE, STATUSES, DecodeResult

# Import the families so that they register themselves.
from . import amp, basis_pursuit, lasso, linear, omp  # noqa: F401,E402
from . import native, readouts  # noqa: F401,E402
from . import greedy, vamp  # noqa: F401,E402
from . import matrix_free  # noqa: E402  (after the families: attaches their operator paths)

__all__ = ["decode", "DECODERS", "DecodeResult", "STATUSES", "check_inputs"]


def check_inputs(A, Y, k=None, finite_A=True):
    """Validate decoder inputs; return ``(A, Y, k)`` with ``Y`` 2-D.

    ``A`` is (m, n) shared by all trials or (T, m, n) per trial; ``Y`` is (m,)
    (one trial) or (T, m). Both must be finite. ``k`` is None or 0 <= k <= n.
    ``finite_A=False`` leaves the finiteness of A to the decoder (a decoder
    registered with ``checks_finite_A=True`` checks it in its own first pass over A).
    """
    A = check_finite_array("A", A, ndim=(2, 3), finite=finite_A)
    Y = check_finite_array("Y", Y, ndim=(1, 2))
    if Y.ndim == 1:
        Y = Y[None, :]
    m, n = A.shape[-2:]
    if m < 1 or n < 1:
        raise ValueError(f"A must have m >= 1 rows and n >= 1 columns, got shape {A.shape}.")
    if Y.shape[1] != m:
        raise ValueError(f"Y has {Y.shape[1]} measurements per trial but A has m={m} rows; shapes A{A.shape}, Y{Y.shape}.")
    if A.ndim == 3 and A.shape[0] != Y.shape[0]:
        raise ValueError(f"A holds {A.shape[0]} trials but Y holds {Y.shape[0]}; shapes A{A.shape}, Y{Y.shape}.")
    if k is not None:
        k = check_int("k", k, low=0, high=n)
    return A, Y, k


def decode(name, A, Y, *, k=None, **params) -> DecodeResult:
    """Run decoder ``name`` on a batch of problems.

    Parameters
    ----------
    name : str
        A registered decoder (``csbench list`` shows them).
    A : array, shape (m, n) or (T, m, n); or Operator; or sequence of T Operators
        One matrix shared by all trials, or one per trial. A
        :class:`csbench.operators.Operator` (or one per trial) runs the
        decoder matrix-free (:mod:`csbench.decoders.matrix_free`; decoders
        that need a dense A say so).
    Y : array, shape (m,) or (T, m)
        Measurements; a 1-D ``Y`` is one trial (T = 1).
    k : int, optional
        Sparsity, for decoders that use it (top-k rules, OMP, ...).
    **params
        Decoder parameters; unknown names raise ``TypeError``. Values are checked
        by the decoder's declared checks (``Entry.check_params``, then
        ``Entry.check_problem`` with n and k) before any work.

    Returns
    -------
    DecodeResult
        ``X_hat`` (T, n), ``n_iter`` (T,), ``status`` (T,). Inputs are never modified.

    Examples
    --------
    >>> import numpy as np, csbench
    >>> A = np.eye(3)[:2]                      # 2 x 3
    >>> csbench.decode("matched_filter", A, [1.0, 0.0]).X_hat
    array([[1., 0., 0.]])
    """
    entry = DECODERS.get(name)
    params = entry.check_params(params)
    if matrix_free.is_operator(A):
        ops, Y, k = matrix_free.check_operator_inputs(entry, A, Y, k)
        params = entry.check_problem(params, ops[0].shape[1], k)
        res = entry.info["operator"](ops, Y, k, **params)
    else:
        A, Y, k = check_inputs(A, Y, k, finite_A=not entry.info.get("checks_finite_A", False))
        params = entry.check_problem(params, A.shape[-1], k)
        res = entry.func(A, Y, k, **params)
    bad = ~np.isfinite(res.X_hat).all(axis=1)
    if bad.any():  # last line of defence: metrics must never see NaN
        res.X_hat[bad] = 0.0
        res.status[bad] = NONFINITE
    return res
