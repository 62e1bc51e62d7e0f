"""Decoders: a registry of batched sparse-recovery algorithms and :func:`decode`.

Each family lives in its own module (registration, declared checks, dense path,
operator path, study defaults) and registers itself in
:data:`~csbench.decoders.base.DECODERS` when the registry is first used; its
numba kernels live in ``csbench.kernels`` and are reached through
:mod:`csbench.decoders.backend`.
"""
from __future__ import annotations

import numpy as np

from .base import (DECODERS, NONFINITE, STATUSES, DecodeResult, check_inputs, check_operator_inputs,
                   is_operator)

__all__ = ["decode", "DECODERS", "DecodeResult", "STATUSES", "check_inputs"]


def decode(name, A, Y, *, k=None, source=None, **params) -> DecodeResult:
    """Run decoder ``name`` on a batch of problems.

    Parameters
    ----------
    name : str
        A registered decoder (``csbench list`` shows them).
    A : array, shape (m, n) or (T, m, n); or Operator; or sequence of T Operators
        One matrix shared by all trials, or one per trial. A
        :class:`csbench.operators.Operator` (or one per trial) runs the
        decoder matrix-free (the family's operator path; decoders that need a
        dense A say so).
    Y : array, shape (m,) or (T, m)
        Measurements; a 1-D ``Y`` is one trial (T = 1).
    k : int, optional
        Sparsity, for decoders that use it (top-k rules, OMP, ...).
    source : sequence, optional
        What produced each trial's A (:attr:`csbench.problems.Measurements.source`, e.g. the
        trained toy model of the ``toy`` encoder), for decoders registered with
        ``takes_source=True`` (``native``); ignored by the others.
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
    extra = {"source": source} if entry.takes_source else {}
    if is_operator(A):
        ops, Y, k = check_operator_inputs(entry, A, Y, k)
        params = entry.check_problem(params, ops[0].shape[1], k)
        res = entry.operator(ops, Y, k, **params, **extra)
    else:
        A, Y, k = check_inputs(A, Y, k, finite_A=not entry.checks_finite_A)
        params = entry.check_problem(params, A.shape[-1], k)
        res = entry.func(A, Y, k, **params, **extra)
    bad = ~np.isfinite(res.X_hat).all(axis=1)
    if bad.any():  # last line of defence: metrics must never see NaN
        res.X_hat[bad] = 0.0
        res.status[bad] = NONFINITE
    return res
