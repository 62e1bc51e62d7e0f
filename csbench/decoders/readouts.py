"""The best linear read-out and a learned linear+ReLU read-out (issue 7, item 3).

Both decoders know the signal prior, which the decoder registry cannot see (a
decoder gets only ``A``, ``Y`` and ``k``): it is named by the parameters
``signal`` and ``signal_params`` (the cell's signal model and its parameters,
exactly as in :class:`csbench.Cell`) and ``noise`` (the cell's noise standard
deviation). Defaults match the default cell (``"binary"``, noiseless); a study
on another signal model must pass the same model to these decoders.

* ``lmmse``: the linear MMSE estimator ``x_hat = mu + S A^T (A S A^T + noise^2 I)^+ (y - A mu)``
  with the prior's exact mean ``mu`` and covariance ``S`` (:func:`prior_moments`),
  the best affine function of y in mean squared error (Kay, *Fundamentals of
  Statistical Signal Processing: Estimation Theory*, 1993, Thm. 12.1).
* ``trained_readout``: ``x_hat = ReLU(E y + c)`` with E (n, m) and c (n) fitted
  on seeded samples of the prior with A known: the amortised encoder of a sparse
  autoencoder whose decoder is A.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validate import check_choice, check_float, check_int, check_memory
from ..decision import decide, fit_threshold, select_rule, top_k, training_signals
from ..seeding import key_words
from ..signals import SIGNALS, check_signal, feature_weights, signal_info
from .backend import kernels
from .base import DECODERS, MAX_ITER, DecodeResult, one_shot

_k = kernels("readout")  # numba loads on the first call, not on import

#: (E v, E v^2) of the nonzero values of the exact-k signal models.
_VALUE_MOMENTS = {"binary": (1.0, 1.0), "signed": (0.0, 1.0), "gaussian": (0.0, 1.0),
                  "uniform": (0.5, 1.0 / 3.0)}
#: (E v, E v^2) of the active values of the ``bernoulli`` model, by ``values``.
_BERNOULLI_MOMENTS = {"signed": (0.0, 1.0 / 3.0), "positive": (0.5, 1.0 / 3.0), "one": (1.0, 1.0)}


def _check_signal_params(param, value):
    """None or a dict of the signal model's parameters."""
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{param} must be a dict of signal parameters or None, got {value!r}.")
    return value


def _check_signal_name(param, value):
    """A registered signal model (unknown names get a "did you mean")."""
    return SIGNALS.get(value).name


#: Value checks shared by the decoders that take the signal prior (``signal``, ``signal_params``, ``noise``).
PRIOR_CHECKS = {"signal": _check_signal_name, "signal_params": _check_signal_params,
                "noise": partial(check_float, low=0.0)}


def _prior_checker(decoder, moments):
    """``check_problem`` of ``decoder``: it needs k; ``signal_params`` checked for (n, k) and merged with defaults.

    With ``moments`` the prior must also have closed-form moments (see :func:`prior_moments`).
    """

    def check(params, n, k):
        if k is None:
            raise ValueError(f"{decoder} needs k (0 <= k <= n) to know the signal prior; got k=None.")
        sp = check_signal(params["signal"], n, k, dict(params["signal_params"] or {}))
        if moments:
            _value_moments(params["signal"], sp)
        return {**params, "signal_params": sp}

    return check


def _value_moments(signal, sp):
    """``(E v, E v^2)`` of the nonzero values of signal model ``signal`` with checked parameters ``sp``.

    Raises ValueError for priors without closed-form moments (see :func:`prior_moments`).
    """
    if signal == "bernoulli":
        if sp["values"] not in _BERNOULLI_MOMENTS:
            raise ValueError(f"no prior moments for bernoulli values={sp['values']!r}; "
                             f"allowed: {sorted(_BERNOULLI_MOMENTS)}.")
        return _BERNOULLI_MOMENTS[sp["values"]]
    if signal not in _VALUE_MOMENTS:
        raise ValueError(f"no prior moments for signal={signal!r}; allowed: "
                         f"{sorted(_VALUE_MOMENTS) + ['bernoulli']}.")
    if sp["profile"] != "uniform":
        raise ValueError(f"profile={sp['profile']!r} has no closed-form moments for the exact-k "
                         f"signal {signal!r}; allowed: 'uniform' (or use signal='bernoulli').")
    return _VALUE_MOMENTS[signal]


def prior_moments(signal, n, k, signal_params=None):
    """Mean and covariance of a csbench signal model: ``(mu, d, beta)`` with ``S = diag(d) + beta 1 1^T``.

    Exact-k models (``binary``, ``signed``, ``gaussian``, ``uniform``; uniform
    profile): the support is uniform among the k-subsets, so with ``q = k/n``,
    ``q2 = k(k-1)/(n(n-1))`` and value moments ``(a, b) = (E v, E v^2)``,
    ``E x_i = q a``, ``E x_i^2 = q b``, ``E x_i x_j = q2 a^2`` (i != j), i.e.
    ``d = q b - q2 a^2`` and ``beta = (q2 - q^2) a^2`` (for binary x,
    ``S 1 = 0``: the sum of x is exactly k). ``bernoulli``: independent
    features, ``p_i = min(1, p n w_i)``, ``mu_i = p_i a``,
    ``d_i = p_i b - p_i^2 a^2``, ``beta = 0``.
    """
    return _moments(signal, n, k, check_signal(signal, n, k, dict(signal_params or {})))


def _moments(signal, n, k, sp):
    """:func:`prior_moments` for checked parameters ``sp``."""
    a, b = _value_moments(signal, sp)
    if signal == "bernoulli":
        p = k / n if sp["p"] is None else sp["p"]
        pi = np.minimum(1.0, p * n * feature_weights(n, sp["profile"], sp["alpha"]))
        return pi * a, pi * b - (pi * a) ** 2, 0.0
    q = k / n
    q2 = k * (k - 1) / (n * (n - 1)) if n > 1 else 0.0
    return np.full(n, q * a), np.full(n, q * b - q2 * a * a), (q2 - q * q) * a * a


def _apply(A, X):
    """``out[t] = A[t] @ X[t]`` for a shared (r, c) or per-trial (T, r, c) ``A`` and ``X`` (T, c)."""
    return X @ A.T if A.ndim == 2 else np.matmul(A, X[:, :, None])[:, :, 0]


def _decide(X_hat, rule, binary, threshold, k=None):
    if rule == "topk":
        return top_k(X_hat, k)
    if rule == "threshold" or (rule == "auto" and binary):
        return (X_hat >= threshold).astype(np.float64)
    return X_hat


#: Value checks of the LMMSE estimator's parameters (run by decode() and DecoderSpec).
LMMSE_CHECKS = {**PRIOR_CHECKS, "rule": partial(check_choice, choices=["auto", "threshold", "topk", "fitted", "best", "raw"]),
                "threshold": check_float, "n_train": partial(check_int, low=1),
                "train_seed": partial(check_int, low=0)}


@DECODERS.register("lmmse", "linear MMSE mu + S A^T (A S A^T + noise^2 I)^+ (y - A mu) for the prior; "
                   "binary: >= 1/2", checks=LMMSE_CHECKS, problem_check=_prior_checker("lmmse", moments=True))
def lmmse(A, Y, k, *, signal="binary", signal_params=None, noise=0.0, rule="auto", threshold=0.5,
          n_train=2000, train_seed=0):
    """Linear minimum-mean-squared-error estimate of x for a csbench signal prior.

    ``x_hat = mu + S A^T M^+ (y - A mu)``, ``M = A S A^T + noise^2 I``, with the
    prior's exact moments (:func:`prior_moments` for ``signal`` and
    ``signal_params``; k from the cell). ``M^+`` is the pseudo-inverse from an
    eigendecomposition (eigenvalues below ``m * eps * max`` dropped), so
    ``m >= n`` and rank-deficient ``S`` (binary x: ``S 1 = 0``) are fine.
    One m x m eigendecomposition for a shared A, one per trial otherwise.

    ``rule="auto"`` thresholds binary signals (``1[x_hat_i >= threshold]``,
    threshold 1/2) and returns the estimate itself otherwise; ``"threshold"`` /
    ``"raw"`` force either. ``"topk"``: the k largest entries of ``x_hat``;
    ``"fitted"``: ``1[x_hat_i >= t]`` with t fitted per matrix on ``n_train``
    training signals of the prior from their own stream ``train_seed``
    (:func:`csbench.decision.decide`; never the rows of Y); ``"best"``: per
    matrix, whichever of threshold / fitted / top-k recovers most of those
    training signals.
    """
    if rule in ("fitted", "best"):
        def raw(A2, Y2):
            return lmmse(A2, Y2, k, signal=signal, signal_params=signal_params, noise=noise, rule="raw").X_hat

        return one_shot(decide(raw, A, Y, k, rule, threshold=threshold, signal=signal, signal_params=signal_params,
                               noise=noise, n_train=n_train, train_seed=train_seed))
    m, n = A.shape[-2:]
    mu, d, beta = _moments(signal, n, k, signal_params)
    At = np.swapaxes(A, -1, -2)
    R = Y - _apply(A, np.broadcast_to(mu, (Y.shape[0], n)))  # y - A mu
    u = A.sum(axis=-1)  # A 1
    M = (A * d) @ At + beta * u[..., :, None] * u[..., None, :] + noise**2 * np.eye(m)
    w, V = np.linalg.eigh(M)
    keep = w > w.max(axis=-1, keepdims=True) * m * np.finfo(float).eps
    winv = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
    W = _apply(V, winv * _apply(np.swapaxes(V, -1, -2), R))  # M^+ (y - A mu)
    X_hat = mu + d * _apply(At, W) + beta * (u * W).sum(axis=-1)[:, None]  # mu + S A^T W
    return one_shot(_decide(X_hat, rule, signal_info(signal, signal_params)[0], threshold, k))


#: Entropy tag of the training-sample streams: disjoint from every problem stream
#: (those have entropy ``[root, *sha256(cell key)]``).
_TAG = key_words("csbench.decoders.trained_readout")


def training_samples(signal, signal_params, n, k, m, noise, n_samples, seed):
    """The ``n_samples`` seeded training signals X (CSR, (N, n)) and noise ``noise * Z`` ((N, m) or None).

    Drawn from ``SeedSequence([seed, *sha256("csbench.decoders.trained_readout")])``
    (signals from its first child, noise from its second) with the registered
    signal model, so they never coincide with a study's problems, and every
    trial (and every m) is fitted on the same signals.
    """
    signals, noises = np.random.SeedSequence([seed, *_TAG]).spawn(2)
    rng = np.random.default_rng(signals)
    draw = SIGNALS.get(signal).func
    indices, values, indptr = [], [], [0]
    for _ in range(n_samples):  # CSR built row by row: never a dense (N, n) array
        x = draw(rng, n, k, **signal_params)
        nz = np.flatnonzero(x)
        indices.append(nz)
        values.append(x[nz])
        indptr.append(indptr[-1] + nz.size)
    from scipy import sparse

    X = sparse.csr_matrix((np.concatenate(values), np.concatenate(indices), np.array(indptr)),
                          shape=(n_samples, n))
    Z = noise * np.random.default_rng(noises).standard_normal((n_samples, m)) if noise > 0 else None
    return X, Z


def training_bytes(n_samples, n, m, k, noise):
    """Peak bytes of :func:`trained_readout`'s training set and fit: ``N (440 + 32 k)`` for the sparse
    signals built sample by sample, with noise ``+ N (18 n + 16 m)`` (the noise (N, m), its whitened copy
    and the (N, n) buffers of the fit), ``+ 64 n (n + m)`` for the fit's matrices. Fitted to tracemalloc
    peaks: N = 2e4 and 4e4, n = 200 and 400, m = 50, k = 4 gave 566 B per sample noiseless (counted 568)
    and 4364 / 7897 B with noise (counted 4928 / 8528)."""
    N = int(n_samples)
    return N * (440 + 32 * int(k)) + (N * (18 * n + 16 * m) if noise > 0 else 0) + 64 * n * (n + m)


def fit_readout(A, X, Z=None, *, max_iter=300, tol=1e-10):
    """Fit ``x_hat = ReLU(E y + c)`` to samples ``(x_s, A x_s + z_s)``; return ``(E, c, n_iter, converged)``.

    Minimises the convex surrogate of the mean squared error
    ``L = (1/2N) sum_s sum_i l(z_si, x_si)``, ``z = E y + c``, with
    ``l = (z - x)^2`` where ``x > 0`` (an upper bound on ``(ReLU(z) - x)^2``,
    equal to it when ``z >= 0``) and ``l = (ReLU(z) - x)^2`` where ``x <= 0``
    (convex there), by full-batch L-BFGS (scipy) from the matched filter
    ``E = A^T``, ``c = 0``; ``tol`` is L-BFGS's ``ftol``. The surrogate is
    convex, so the fit does not depend on the start up to ``tol``. Products use
    the sparsity of X (numba kernel ``kernels.readout``, scores through
    ``E A``): O(nnz(X) n + n^2 m) time and O(nnz(X) + n^2) memory per
    evaluation; with noise plus O(N m n) time and an (N, n) buffer.
    """
    m, n = A.shape
    from scipy.optimize import minimize

    res = minimize(_objective(A, X, Z), np.concatenate([A.T.ravel(), np.zeros(n)]), jac=True,
                   method="L-BFGS-B", options={"maxiter": max_iter, "ftol": tol, "gtol": 0.0, "maxcor": 20})
    return res.x[: n * m].reshape(n, m), res.x[n * m:], int(res.nit), res.status != 1


def _objective(A, X, Z):
    """``w = [E.ravel(), c] -> (L, dL/dw)`` for :func:`fit_readout` (buffers allocated once)."""
    m, n = A.shape
    N = X.shape[0]
    indptr, indices, data = X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data
    loss, gB, gc = np.empty(n), np.empty((n, n)), np.empty(n)
    G = np.empty((N, n)) if Z is not None else np.empty((0, 0))

    def loss_grad(w):
        E, c = w[: n * m].reshape(n, m), w[n * m:]
        offset = Z @ E.T if Z is not None else np.empty((0, 0))
        _k.surrogate_loss_grad(E @ A, c, indptr, indices, data, offset, loss, gB, gc, G)
        gE = gB @ A.T  # dL/dE = dL/dB A^T
        if Z is not None:
            gE += G.T @ Z
        return 0.5 * loss.sum() / N, np.concatenate([gE.ravel(), gc]) / N

    return loss_grad


def _whitener(A):
    """``W`` (m, m) with ``W A`` having all nonzero singular values equal (their rms); W = 0 off range(A)."""
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    keep = s > s[0] * max(A.shape) * np.finfo(float).eps
    U, s = U[:, keep], s[keep]
    return (U * (np.sqrt(np.mean(s * s)) / s)) @ U.T


#: Value checks of the trained read-out's parameters (run by decode() and DecoderSpec).
TRAINED_CHECKS = {**PRIOR_CHECKS, "activation": partial(check_choice, choices=["relu", "threshold"]),
                  "n_samples": partial(check_int, low=1), "max_iter": partial(check_int, low=1),
                  "tol": partial(check_float, low=0.0), "seed": partial(check_int, low=0),
                  "rule": partial(check_choice, choices=["activation", "topk", "fitted", "best"]),
                  "n_train": partial(check_int, low=1), "train_seed": partial(check_int, low=0)}


@DECODERS.register("trained_readout", "ReLU(E y + c), E and c fitted on seeded samples of the prior "
                   "with A known (amortised SAE encoder)", checks=TRAINED_CHECKS,
                   problem_check=_prior_checker("trained_readout", moments=False))
def trained_readout(A, Y, k, *, signal="binary", signal_params=None, noise=0.0, activation="relu",
                    n_samples=16384, max_iter=300, tol=1e-10, seed=0, rule="activation", n_train=2000,
                    train_seed=0):
    """Learned linear+ReLU read-out ``x_hat = ReLU(E y + c)`` (or ``1[E y + c >= 1/2]``).

    E (n, m) and c (n) are fitted by :func:`fit_readout` on ``n_samples``
    signals of the prior (``signal``, ``signal_params``, k from the cell;
    noise ``noise``) measured with the trial's own A, drawn by
    :func:`training_samples` from ``seed``; never the problems being decoded.
    A shared A is fitted once; a per-trial A once per trial. The fit runs on
    whitened measurements ``W y`` (``W A`` with equal singular values; same
    optimum, about 30 % fewer iterations) and returns ``E = E' W``. Each feature is
    active in about ``n_samples * k / n`` training samples, against ``m + 1``
    parameters per feature: with fewer the fit overfits (measured in
    ``docs/decoders.md``). ``n_iter`` is the number of L-BFGS iterations,
    status ``max_iter`` when ``max_iter`` stopped it. ``activation="threshold"``
    returns ``1[E y + c >= 1/2]``. ``rule="topk"``: the k largest ``E y + c``;
    ``rule="fitted"``: ``1[E y + c >= t]``, t fitted per matrix on ``n_train``
    further signals from their own stream ``train_seed``
    (:func:`csbench.decision.training_signals`, disjoint from the fitting
    samples and from the problems); ``rule="best"``: per matrix, the best of
    1[E y + c >= 1/2] / fitted / top-k on those signals; ``"activation"``
    (default) applies ``activation``.
    """
    m, n = A.shape[-2:]
    check_memory("n_samples", n_samples, training_bytes(n_samples, n, m, k, noise),
                 f"the training set of trained_readout (n={n}, m={m}, k={k}{', with noise' if noise > 0 else ''})")
    X, Z = training_samples(signal, signal_params, n, k, m, noise, n_samples, seed)
    if rule in ("fitted", "best"):
        X_tr, Z_tr = training_signals(signal, n, k, n_train, train_seed, signal_params, m=m, noise=noise)
        taus = np.empty(Y.shape[0])
        use_topk = np.zeros(Y.shape[0], bool)
    T = Y.shape[0]
    S = np.empty((T, n))
    n_iter = np.zeros(T, np.int64)
    status = np.zeros(T, np.int8)
    for t in range(1 if A.ndim == 2 else T):
        At = A if A.ndim == 2 else A[t]
        W = _whitener(At)  # fit on whitened measurements W y (better conditioned), then E = E' W
        E, c, it, converged = fit_readout(W @ At, X, None if Z is None else Z @ W.T,
                                          max_iter=max_iter, tol=tol)
        E = E @ W
        rows = slice(None) if A.ndim == 2 else slice(t, t + 1)
        S[rows] = np.matmul(E, Y[rows, :, None])[:, :, 0] + c  # row by row: any batching, same bits
        n_iter[rows], status[rows] = it, 0 if converged else MAX_ITER
        if rule in ("fitted", "best"):
            Y_tr = X_tr @ At.T + (0.0 if Z_tr is None else Z_tr)
            if rule == "fitted":
                taus[rows] = fit_threshold(Y_tr @ E.T + c, X_tr)
            else:
                best, taus[rows], _ = select_rule(Y_tr @ E.T + c, X_tr, k=k)
                use_topk[rows] = best == "topk"
    if rule in ("fitted", "best"):
        X_hat = (S >= taus[:, None]).astype(np.float64)
        if use_topk.any():
            X_hat[use_topk] = top_k(S[use_topk], k)
        return DecodeResult(X_hat, n_iter, status)
    if rule == "topk":
        return DecodeResult(top_k(S, k), n_iter, status)
    X_hat = np.maximum(S, 0.0) if activation == "relu" else (S >= 0.5).astype(np.float64)
    return DecodeResult(X_hat, n_iter, status)
