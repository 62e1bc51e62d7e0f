"""Generated encoders: every entry can be regenerated on demand, so the dense draw and the
matrix-free :class:`csbench.operators.Operator` give the same matrix for the same stream.

``gaussian`` and ``rademacher`` are counter-based (entry ``Z[i, j]`` is a pure function of
(key, i, j) through Philox4x32-10, :mod:`csbench.kernels.philox`); ``dct`` is a subsampled
randomised DCT (:class:`csbench.operators.DCTOperator`).
"""
from __future__ import annotations

import numpy as np

from . import ENCODERS


def philox_key(rng):
    """The 64-bit Philox key ``(k0, k1)`` of a generated encoder, drawn from its stream ``rng``.

    ``w = rng.bit_generator.random_raw()`` (the next raw 64-bit output; for a
    trial, the first output of the PCG64 of its MATRIX stream
    ``seeding.trial_seed(seed, key, t, MATRIX)``); ``k0 = w mod 2^32``,
    ``k1 = w // 2^32``. Drawn, not derived from the seed sequence, so two
    draws from one generator are independent.
    """
    w = int(rng.bit_generator.random_raw())
    return np.uint64(w & 0xFFFFFFFF), np.uint64(w >> 32)


def generated_rows(kind, key, i0, i1, n):
    """Rows ``i0 .. i1-1`` of the raw matrix ``Z`` of a generated ensemble (:mod:`csbench.kernels.philox`)."""
    from ..kernels import philox

    Z = np.empty((i1 - i0, n))
    philox.fill_rows(philox.GAUSSIAN if kind == "gaussian" else philox.RADEMACHER, key[0], key[1], i0, Z)
    return Z


def _philox_operator(kind):
    def operator(rng, m, n):
        from ..operators import GeneratedOperator

        return GeneratedOperator(kind, philox_key(rng), m, n)

    return operator


def _dct_operator(rng, m, n):
    from ..operators import DCTOperator

    return DCTOperator(*dct_draw(rng, n), m)


def _dct_shape(m, n, params):
    if m > n:
        raise ValueError(f"m={m} exceeds n={n} for encoder 'dct' (m rows of an n x n transform); "
                         f"allowed: 1 <= m <= n.")


@ENCODERS.register("gaussian", "iid N(0, 1/m) entries; E||a_j||^2 = 1", nested="sqrt", generated=True,
                   operator=_philox_operator("gaussian"))
def gaussian(rng, m, n):
    """iid Gaussian entries N(0, 1/m): ``A_m = Z[:m] / sqrt(m)``, Z counter-based (Philox4x32-10, Box-Muller).

    Entry ``Z[i, j]`` is a pure function of (key, i, j) with the key from
    :func:`philox_key`, so the matrix at m rows is the first m rows of one
    master (nested) and the matrix-free :class:`csbench.operators.GeneratedOperator`
    regenerates exactly these entries (:mod:`csbench.kernels.philox`).
    """
    return generated_rows("gaussian", philox_key(rng), 0, m, n) / np.sqrt(m)


@ENCODERS.register("rademacher", "iid +-1/sqrt(m) entries; ||a_j|| = 1 exactly", nested="sqrt", generated=True,
                   operator=_philox_operator("rademacher"))
def rademacher(rng, m, n):
    """iid symmetric signs scaled by 1/sqrt(m) (every column has norm exactly 1); counter-based as :func:`gaussian`."""
    return generated_rows("rademacher", philox_key(rng), 0, m, n) / np.sqrt(m)


def dct_draw(rng, n):
    """Signs ``d`` (n,) and a permutation (n,) of the ``dct`` encoder, in this order from ``rng``."""
    signs = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return signs, rng.permutation(n)


@ENCODERS.register("dct", "subsampled randomised DCT sqrt(n/m) R F D; orthogonal rows, E||a_j||^2 = 1",
                   nested="sqrt", generated=True, operator=_dct_operator, shape_check=_dct_shape)
def dct(rng, m, n):
    """Subsampled randomised DCT (needs m <= n): see :class:`csbench.operators.DCTOperator`.

    A structured ensemble (products in O(n log n)), not iid: rows are
    orthogonal with squared norm n/m, columns have squared norm 1 in
    expectation only. Nested: rows in the order of one random permutation.
    """
    from ..operators import DCTOperator

    return DCTOperator(*dct_draw(rng, n), m).dense()
