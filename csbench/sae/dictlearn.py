"""Classical dictionary learning, the non-amortised reference: scikit-learn's ``MiniBatchDictionaryLearning``.

Online dictionary learning (Mairal, Bach, Ponce & Sapiro 2009, *Online
dictionary learning for sparse coding*) minimises over a dictionary D (m, d)
with unit-norm columns and codes u_t:

    sum_t 1/2 ||h_t - D u_t||^2 + alpha ||u_t||_1   (u_t >= 0 if ``positive_code``)

alternating a lasso per mini-batch (coordinate descent) with a block
coordinate update of D. Unlike an SAE there is no encoder: the code of a new
sample is the solution of a per-sample sparse inference problem, for which
csbench's own decoders (``csbench.decode("lasso", D, Y, ...)``, OMP, ...) are used.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validate import check_bool, check_finite_array, check_float, check_int, optional


@dataclass
class LearnedDictionary:
    """A dictionary learned by :func:`learn_dictionary`: ``dictionary`` (m, d), unit-norm columns.

    ``n_iter`` epochs and ``n_steps`` mini-batch steps were run; ``unconverged``
    counts mini-batch lasso solves that sklearn reported as not converged.
    """

    dictionary: np.ndarray
    n_iter: int
    n_steps: int
    params: dict
    unconverged: int = 0


def learn_dictionary(H, d, *, alpha=0.1, seed=0, batch_size=256, max_iter=20, positive_code=False, tol=1e-3,
                     max_no_improvement=10):
    """Learn a d-atom dictionary from activations ``H`` (N, m) with scikit-learn's MiniBatchDictionaryLearning.

    Parameters
    ----------
    H : array (N, m)
        Training activations.
    d : int >= 1
        Number of atoms.
    alpha : float > 0
        L1 weight of the per-sample objective ``1/2 ||h - D u||^2 + alpha ||u||_1``
        (the absolute lasso ``lam`` of :func:`csbench.decode`, not sklearn's per-row scaled one).
    seed : int >= 0
        Initialisation and shuffling seed (``random_state``).
    batch_size, max_iter : int >= 1
        Mini-batch size and maximum passes over H (sklearn's ``max_iter`` counts epochs).
    positive_code : bool
        Nonnegative codes.
    tol : float >= 0
        sklearn's early-stopping tolerance on the dictionary change.
    max_no_improvement : int >= 1 or None
        sklearn's early stopping on the smoothed cost (None: run all ``max_iter`` epochs).

    Returns
    -------
    LearnedDictionary
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.exceptions import ConvergenceWarning

    H = check_finite_array("H", H, ndim=2)
    d = check_int("d", d, low=1)
    params = {"alpha": check_float("alpha", alpha, low=0.0, low_open=True), "seed": check_int("seed", seed, low=0),
              "batch_size": check_int("batch_size", batch_size, low=1),
              "max_iter": check_int("max_iter", max_iter, low=1),
              "positive_code": check_bool("positive_code", positive_code),
              "tol": check_float("tol", tol, low=0.0),
              "max_no_improvement": optional(lambda p, v: check_int(p, v, low=1))("max_no_improvement",
                                                                                  max_no_improvement)}
    est = MiniBatchDictionaryLearning(n_components=d, alpha=alpha, max_iter=max_iter, batch_size=batch_size,
                                      fit_algorithm="cd", random_state=seed, positive_code=positive_code, tol=tol,
                                      max_no_improvement=max_no_improvement)
    with warnings.catch_warnings(record=True) as caught:  # sklearn warns per unconverged mini-batch lasso
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(H)
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    D = est.components_.T.astype(np.float64)
    norms = np.linalg.norm(D, axis=0)
    D = D / np.where(norms > 0, norms, 1.0)
    return LearnedDictionary(D, int(est.n_iter_), int(est.n_steps_), params, unconverged)
