"""Plain-numpy reference implementations of the greedy decoders, written from the papers, for tests only.

Each function solves one problem with numpy/BLAS products, ``numpy.linalg.lstsq``
for least squares and a stable sort for selections (ties: lowest index, the rule
of ``csbench.kernels.greedy``). Stopping rules and constants as documented in
``csbench.decoders.greedy``. Returns ``(x, status, n_iter)``.
"""
import numpy as np

OK, MAX_ITER, DIVERGED, NONFINITE, DEPENDENT = 0, 1, 2, 3, 4
DEP_TOL = 1e-10
CORR_FLOOR = 1e-12
BLOWUP = 1e3


def top(score, s):
    """Indices (sorted) of the s largest scores, ties to the lowest index: a stable sort of -score."""
    return np.sort(np.argsort(-score, kind="stable")[:s])


def hard(v, s):
    """``H_s(v)`` and its index set."""
    S = top(np.abs(v), s)
    out = np.zeros_like(v)
    out[S] = v[S]
    return out, S


def dependent(A, S):
    """Whether some atom of S (in the order given) lies within DEP_TOL of the span of those before it."""
    for q in range(1, len(S)):
        a = A[:, S[q]]
        P = A[:, S[:q]]
        d = a - P @ np.linalg.lstsq(P, a, rcond=None)[0]
        if d @ d <= DEP_TOL * (a @ a):
            return True
    return len(S) > 0 and A[:, S[0]] @ A[:, S[0]] == 0.0


def ls(A, y, S):
    """Least squares on the columns S (dense vector), or None if S is dependent."""
    if dependent(A, S):
        return None
    x = np.zeros(A.shape[1])
    x[S] = np.linalg.lstsq(A[:, S], y, rcond=None)[0]
    return x


def iht(A, y, s, step, max_iter=500, tol=1e-9):
    """IHT, Blumensath & Davies (2009), eq. (2): x <- H_s(x + mu A^T (y - A x))."""
    x = np.zeros(A.shape[1])
    yn = np.linalg.norm(y)
    if yn == 0 or s == 0:
        return x, OK, 0
    for it in range(1, max_iter + 1):
        xn, _ = hard(x + step * (A.T @ (y - A @ x)), s)
        rn = np.linalg.norm(y - A @ xn)
        dx = np.linalg.norm(xn - x)
        x = xn
        if rn > BLOWUP * yn:
            return x, DIVERGED, it
        if dx <= tol * np.linalg.norm(xn) or rn <= tol * yn:
            return x, OK, it
    return x, MAX_ITER, max_iter


def niht(A, y, s, max_iter=500, tol=1e-9, c=0.01, kappa=2.0, max_shrink=60):
    """Normalised IHT, Blumensath & Davies (2010), Algorithm 2 (adaptive step, backtracking)."""
    n = A.shape[1]
    x = np.zeros(n)
    yn = np.linalg.norm(y)
    if yn == 0 or s == 0:
        return x, OK, 0
    G = top(np.abs(A.T @ y), s)
    for it in range(1, max_iter + 1):
        g = A.T @ (y - A @ x)
        num = g[G] @ g[G]
        if num == 0:
            return x, OK, it - 1
        mu = num / np.sum((A[:, G] @ g[G]) ** 2)
        shrink = 0
        while True:
            xn, Gn = hard(x + mu * g, s)
            if np.array_equal(Gn, G) or shrink >= max_shrink:
                break
            d = xn - x
            if d @ d == 0:
                break
            omega = (1 - c) * (d @ d) / np.sum((A @ d) ** 2)
            if mu <= omega:
                break
            mu /= kappa * (1 - c)
            shrink += 1
        rn = np.linalg.norm(y - A @ xn)
        dx = np.linalg.norm(xn - x)
        x, G = xn, Gn
        if rn > BLOWUP * yn:
            return x, DIVERGED, it
        if dx <= tol * np.linalg.norm(xn) or rn <= tol * yn:
            return x, OK, it
    return x, MAX_ITER, max_iter


def htp(A, y, s, step=1.0, max_iter=500):
    """HTP, Foucart (2011): S <- L_s(x + mu A^T (y - A x)); x <- LS on S; until S repeats."""
    x = np.zeros(A.shape[1])
    if not np.any(y) or s == 0:
        return x, OK, 0
    S = np.zeros(0, np.int64)
    for it in range(1, max_iter + 2):
        Sn = top(np.abs(x + step * (A.T @ (y - A @ x))), s)
        if np.array_equal(Sn, S):
            return x, OK, it - 1
        if it == max_iter + 1:
            break
        xn = ls(A, y, Sn)
        if xn is None:
            return x, DEPENDENT, it - 1
        x, S = xn, Sn
    return x, MAX_ITER, max_iter


def cosamp(A, y, s, max_iter=500, tol=1e-9):
    """CoSaMP, Needell & Tropp (2009), Algorithm 1."""
    n = A.shape[1]
    a = np.zeros(n)
    S = np.zeros(0, np.int64)
    yn = np.linalg.norm(y)
    if yn == 0 or s == 0:
        return a, OK, 0
    v = y.copy()
    for it in range(1, max_iter + 1):
        Om = top(np.abs(A.T @ v), min(2 * s, n))
        T = np.union1d(Om, S)
        b = ls(A, y, T)
        if b is None:
            return a, DEPENDENT, it - 1
        an, S = hard(b, s)
        v = y - A @ an
        dx = np.linalg.norm(an - a)
        a = an
        rn = np.linalg.norm(v)
        if rn > BLOWUP * yn:
            return a, DIVERGED, it
        if dx <= tol * np.linalg.norm(an) or rn <= tol * yn:
            return a, OK, it
    return a, MAX_ITER, max_iter


def subspace_pursuit(A, y, s, max_iter=500, tol=1e-9):
    """Subspace pursuit, Dai & Milenkovic (2009), Algorithm 1 (stop when the residual does not decrease)."""
    n = A.shape[1]
    yn = np.linalg.norm(y)
    if yn == 0 or s == 0:
        return np.zeros(n), OK, 0
    T = top(np.abs(A.T @ y), s)
    x = ls(A, y, T)
    if x is None:
        return np.zeros(n), DEPENDENT, 0
    r = y - A @ x
    if np.linalg.norm(r) <= tol * yn:
        return x, OK, 0
    for it in range(1, max_iter + 1):
        Tp = np.union1d(T, top(np.abs(A.T @ r), s))
        b = ls(A, y, Tp)
        if b is None:
            return x, DEPENDENT, it - 1
        Tn = top(np.abs(b), s)
        xn = ls(A, y, Tn)
        if xn is None:
            return x, DEPENDENT, it - 1
        rn = y - A @ xn
        if rn @ rn >= r @ r:
            return x, OK, it
        T, x, r = Tn, xn, rn
        if np.linalg.norm(r) <= tol * yn:
            return x, OK, it
    return x, MAX_ITER, max_iter


def matching_pursuit(A, y, n_steps, tol=None):
    """Matching pursuit, Mallat & Zhang (1993): greedy atom, coefficient a_j^T r / ||a_j||^2, no re-projection."""
    n = A.shape[1]
    x = np.zeros(n)
    nsq = np.einsum("ij,ij->j", A, A)
    inv = np.divide(1.0, np.sqrt(nsq), out=np.zeros(n), where=nsq > 0)
    r = y.astype(float).copy()
    rr = r @ r
    floor = CORR_FLOOR * np.sqrt(rr)
    tol_ = -1.0 if tol is None else tol
    if rr == 0 or rr <= tol_:
        return x, OK, 0
    steps = 0
    while steps < n_steps:
        c = A.T @ r
        score = np.abs(c) * inv
        j = int(np.argmax(score))
        if score[j] <= floor:
            break
        a = c[j] / nsq[j]
        x[j] += a
        r -= a * A[:, j]
        rr = r @ r
        steps += 1
        if rr <= tol_:
            break
    status = MAX_ITER if (tol is not None and rr > tol and steps == n_steps) else OK
    return x, status, steps


def matching_k(A, y, k, steps):
    """Matching-k for binary x: each step adds the ceil(k/steps) not-yet-added atoms best correlated with r."""
    n = A.shape[1]
    x = np.zeros(n)
    q0 = -(-k // steps)
    added = it = 0
    r = y.astype(float).copy()
    while added < k:
        c = A.T @ r
        c[x != 0] = -np.inf
        S = top(c, min(q0, k - added))
        x[S] = 1.0
        r = r - A[:, S].sum(axis=1)
        added += len(S)
        it += 1
    return x, OK, it
