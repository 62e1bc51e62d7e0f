"""Right-orthogonally-invariant (ROI) matrices ``A = U diag(s) V^T`` with a chosen singular-value spectrum.

The ensemble under which VAMP's state evolution is proved [RSF19]: the law of A
is unchanged by ``A -> A Q`` for any orthogonal Q, and the spectrum (hence the
condition number) is prescribed, so a study can sweep the condition number
kappa, where AMP's i.i.d. theory does not apply.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_finite_array, check_float, check_int, optional
from . import ENCODERS

__all__ = ["geometric_spectrum", "haar_orthonormal", "orthoinv", "roi_matrix"]


def haar_orthonormal(rng, n, r):
    """An ``(n, r)`` matrix with orthonormal columns, Haar distributed (the first r columns of a Haar orthogonal matrix).

    QR of an ``(n, r)`` standard Gaussian matrix with the signs of R's diagonal
    moved into Q (``Q diag(sign(diag R))``), which makes Q Haar (Mezzadri 2007).
    """
    Z = rng.standard_normal((n, r))
    Q, R = np.linalg.qr(Z)
    d = np.sign(np.diag(R))
    d[d == 0] = 1.0
    return Q * d


def geometric_spectrum(r, kappa):
    """``s_i = kappa^{-i/(r-1)}``, i = 0..r-1: r singular values from 1 down to 1/kappa (all 1 if r = 1)."""
    r = check_int("r", r, low=1)
    kappa = check_float("kappa", kappa, low=1.0)
    if r == 1:
        return np.ones(1)
    return kappa ** (-np.arange(r) / (r - 1))


def roi_matrix(rng, m, n, kappa=1.0, spectrum=None):
    """Draw ``A = U diag(s) V^T`` (m, n) with Haar U (m x r), V (n x r), r = min(m, n).

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness (U is drawn first, then V).
    m, n : int >= 1
    kappa : float >= 1
        Condition number ``s_max / s_min`` of the geometric spectrum
        ``s_i proportional to kappa^{-i/(r-1)}`` (ignored when ``spectrum`` is given).
    spectrum : array of r positive finite values, optional
        Singular values (any order; used sorted in decreasing order, shape kept).

    Returns
    -------
    ndarray (m, n), float64, C-contiguous
        The spectrum is rescaled so that ``sum s_i^2 = n``, i.e. ``||A||_F^2 = n``
        and every column has ``E ||a_j||^2 = 1`` (exactly ``||A||_F^2 / n``
        on average over j, and in expectation for each j since the law of A is
        invariant under column permutations). kappa = 1 and m <= n gives
        ``A A^T = (n/m) I`` (orthogonal rows: a tight frame).

    Notes
    -----
    Not nested over m: the first m rows of an ROI matrix with m' > m rows are
    not ROI with the prescribed spectrum. Cost: two QR factorisations
    (``O(m^2 r + n r^2)``) and one product ``O(m n r)``.

    References
    ----------
    .. [RSF19] S. Rangan, P. Schniter, A. K. Fletcher, "Vector approximate message
       passing", IEEE Trans. Inf. Theory 65 (10), 6664-6684, 2019.
    .. F. Mezzadri, "How to generate random matrices from the classical compact
       groups", Notices of the AMS 54 (5), 592-604, 2007.
    """
    m = check_int("m", m, low=1)
    n = check_int("n", n, low=1)
    r = min(m, n)
    if spectrum is None:
        s = geometric_spectrum(r, kappa)
    else:
        s = check_finite_array("spectrum", spectrum, ndim=(1,))
        if s.shape[0] != r or not np.all(s > 0):
            raise ValueError(f"spectrum must hold r = min(m, n) = {r} positive singular values; got shape "
                             f"{s.shape} with min {float(s.min()) if s.size else None!r}.")
        s = np.sort(s)[::-1]
    s = s * np.sqrt(n / np.sum(s * s))
    U = haar_orthonormal(rng, m, r)
    V = haar_orthonormal(rng, n, r)
    return np.ascontiguousarray((U * s) @ V.T)


def _spectrum_shape(m, n, p):
    check_float("kappa", p["kappa"], low=1.0)
    if p["spectrum"] is not None:
        s = check_finite_array("spectrum", p["spectrum"], ndim=(1,))
        if s.shape[0] != min(m, n) or not np.all(s > 0):
            raise ValueError(f"spectrum must hold r = min(m, n) = {min(m, n)} positive singular values at (m, n) = "
                             f"({m}, {n}); got {s.shape[0]} values.")


@ENCODERS.register("orthoinv", "right-orthogonally-invariant U diag(s) V^T, condition number kappa (not nested)",
                   shape_check=_spectrum_shape, checks={"kappa": lambda k, v: check_float(k, v, low=1.0),
                                                        "spectrum": optional(check_finite_array)})
def orthoinv(rng, m, n, *, kappa=1.0, spectrum=None):
    """Encoder ``orthoinv``: :func:`roi_matrix` (Haar U and V, geometric spectrum with condition number
    ``kappa`` or the given ``spectrum``; ``||A||_F^2 = n``). Not nested: each m is its own draw."""
    return roi_matrix(rng, m, n, kappa=kappa, spectrum=spectrum)
