"""Plain-numpy reference OMP (the textbook algorithm, no Cholesky updates), for tests only.

Each step recomputes the correlations ``A^T r`` and refits from scratch:
least squares by ``numpy.linalg.lstsq`` (signed) or ``scipy.optimize.nnls``
(positive). Same stopping rules and thresholds as ``csbench.kernels.omp``.
"""
import numpy as np
from scipy.optimize import nnls

OK, MAX_ITER, DEPENDENT = 0, 1, 4


def omp_ref(A, y, s_max, tol=None, positive=False, dep_tol=1e-10, corr_floor=1e-12):
    """Return ``(x, selected, status)`` for one problem."""
    m, n = A.shape
    norms = np.linalg.norm(A, axis=0)
    inv = np.divide(1.0, norms, out=np.zeros(n), where=norms > 0)
    S, coef, r = [], np.zeros(0), y.astype(float).copy()
    status = OK
    floor = corr_floor * np.linalg.norm(y)
    rr = r @ r
    if rr == 0 or (tol is not None and rr <= tol):
        return np.zeros(n), S, OK
    while len(S) < s_max:
        c = A.T @ r
        score = (np.maximum(c, 0.0) if positive else np.abs(c)) * inv
        score[S] = 0.0
        j = int(np.argmax(score))
        if score[j] <= floor:
            break
        if S:  # squared distance of a_j to span(A_S)
            AS = A[:, S]
            d = A[:, j] - AS @ np.linalg.lstsq(AS, A[:, j], rcond=None)[0]
            if d @ d <= dep_tol * norms[j] ** 2:
                status = DEPENDENT
                break
        S.append(j)
        AS = A[:, S]
        coef = nnls(AS, y)[0] if positive else np.linalg.lstsq(AS, y, rcond=None)[0]
        r = y - AS @ coef
        rr = r @ r
        if rr == 0 or (tol is not None and rr <= tol):
            break
    if status == OK and tol is not None and rr > tol and len(S) == s_max:
        status = MAX_ITER
    x = np.zeros(n)
    x[S] = coef[: len(S)]
    return x, S, status
