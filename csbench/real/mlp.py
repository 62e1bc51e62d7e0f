r"""MLP diagnostics of seed 000: coherence, alignment, the Helmholtz split, the entropy rate.

For a one-hidden-layer MLP ``f(x) = W_out σ(W_in x + b_in) + b_out`` with
``W_in`` (h, d) of rows v_j, ``W_out`` (d, h) of columns w_j and ``z_j = v_j·x + b_j``:

* alignment: ``a_j = <w_j, v_j> / ||v_j||²``, ``r_j = w_j − a_j v_j`` (so r_j ⊥ v_j),
  ``cos(w_j, v_j)`` and the swirl fraction ``||r_j||² / ||w_j||²``;
* potential ``U(x) = Σ_j a_j ψ(z_j)`` with ψ' = σ, so ``∇U = Σ_j a_j σ(z_j) v_j``;
* remainder ``R(x) = Σ_j r_j σ(z_j)``, divergence-free: ``∇·R = Σ_j σ'(z_j) r_j·v_j = 0``;
* exact split ``f = ∇U + R + b_out`` and ``∇·f = ΔU = Σ_j a_j σ'(z_j) ||v_j||²``.

Under the flow ``ẋ = f(x)`` the differential entropy of ρ changes at the rate
``dH/dt = E_ρ[∇·f]`` (Liouville); for ρ = N(0, s² I) it is exact:
``E σ'(z)`` for ``z ~ N(μ, τ²)`` is ``Φ(μ/τ)`` (ReLU) and
``Φ(μ/t) + μ φ(μ/t) / t³`` with ``t = sqrt(1 + τ²)`` (GELU, erf form σ(z) = z Φ(z)).

Seed 000 (``shared/seeds/000``) predicts that entropy *decreases* when ∇U
dominates, i.e. ``E_ρ[∇·f] < 0`` (:data:`SEED000_PREDICTED_SIGN`); note that for
aligned weights (a_j > 0) and σ' ≥ 0 its own formula gives ΔU > 0.
Closed forms are checked against central finite differences by :func:`check_decomposition`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .._validate import check_choice, check_finite_array, check_float, check_int
from ..activations import activate
from ..diagnostics import coherence_stats

ACTIVATIONS = ("relu", "gelu")
SEED000_PREDICTED_SIGN = -1  # "entropy downstream decreases ... when ∇U dominates"
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _phi(z):
    return _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def sigma(z, activation):
    """σ(z): ReLU ``max(z, 0)`` or GELU ``z Φ(z)`` (erf form; :func:`csbench.activations.activate`)."""
    return activate(activation, z)


def dsigma(z, activation):
    """σ'(z): ReLU ``1[z > 0]``; GELU ``Φ(z) + z φ(z)``."""
    return (z > 0).astype(float) if activation == "relu" else ndtr(z) + z * _phi(z)


def psi(z, activation):
    """ψ with ψ' = σ: ReLU ``max(z, 0)²/2``; GELU ``((z² − 1) Φ(z) + z φ(z)) / 2``."""
    if activation == "relu":
        return 0.5 * np.maximum(z, 0.0) ** 2
    return 0.5 * ((z * z - 1.0) * ndtr(z) + z * _phi(z))


def gaussian_mean_dsigma(mu, tau, activation):
    """``E σ'(z)`` for ``z ~ N(mu, tau²)``, tau > 0 (closed forms in the module docstring)."""
    if activation == "relu":
        return ndtr(mu / tau)
    t = np.sqrt(1.0 + tau * tau)
    return ndtr(mu / t) + mu * _phi(mu / t) / t**3


@dataclass(frozen=True)
class MLP:
    """``f(x) = W_out σ(W_in x + b_in) + b_out``; biases default to zero; σ in :data:`ACTIVATIONS`."""

    W_in: np.ndarray
    W_out: np.ndarray
    b_in: np.ndarray | None = None
    b_out: np.ndarray | None = None
    activation: str = "gelu"

    def __post_init__(self):
        check_choice("activation", self.activation, ACTIVATIONS)
        W_in = check_finite_array("W_in", self.W_in, ndim=2)
        h, d = W_in.shape
        W_out = check_finite_array("W_out", self.W_out, ndim=2)
        if W_out.shape != (d, h):
            raise ValueError(f"W_out has shape {W_out.shape}; allowed: ({d}, {h}) for W_in of shape {(h, d)}.")
        b_in = np.zeros(h) if self.b_in is None else check_finite_array("b_in", self.b_in, ndim=1)
        b_out = np.zeros(d) if self.b_out is None else check_finite_array("b_out", self.b_out, ndim=1)
        if b_in.shape != (h,) or b_out.shape != (d,):
            raise ValueError(f"b_in/b_out have shapes {b_in.shape}/{b_out.shape}; allowed: ({h},)/({d},).")
        for k, v in (("W_in", W_in), ("W_out", W_out), ("b_in", b_in), ("b_out", b_out)):
            object.__setattr__(self, k, v)
        V2 = np.einsum("jd,jd->j", W_in, W_in)
        if (V2 == 0).any():
            raise ValueError(f"W_in has {(V2 == 0).sum()} zero row(s) (first {int(np.argmax(V2 == 0))}); "
                             "a_j = <w_j, v_j>/||v_j||^2 needs every ||v_j|| > 0.")
        a = np.einsum("dj,jd->j", W_out, W_in) / V2
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_v2", V2)
        object.__setattr__(self, "_R", W_out - a * W_in.T)  # columns r_j

    @property
    def shape(self):
        """``(h, d)``: hidden width and input dimension."""
        return self.W_in.shape

    def _X(self, X):
        X = check_finite_array("X", X, ndim=(1, 2))
        X = X[None] if X.ndim == 1 else X
        if X.shape[1] != self.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns; allowed: d = {self.shape[1]}.")
        return X

    def pre(self, X):
        """Pre-activations ``Z = X W_inᵀ + b_in`` (N, h)."""
        return self._X(X) @ self.W_in.T + self.b_in

    def __call__(self, X):
        """``f(X)`` (N, d)."""
        return sigma(self.pre(X), self.activation) @ self.W_out.T + self.b_out

    def alignment(self):
        """Per neuron: ``a`` (h,), ``r`` (h, d) rows r_j, ``cos`` = cos(w_j, v_j), ``swirl`` = ||r_j||²/||w_j||²."""
        wn2 = np.einsum("dj,dj->j", self.W_out, self.W_out)
        dot = self._a * self._v2
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where(wn2 > 0, dot / np.sqrt(wn2 * self._v2), 0.0)
            swirl = np.where(wn2 > 0, np.einsum("dj,dj->j", self._R, self._R) / wn2, 0.0)
        return {"a": self._a.copy(), "r": self._R.T.copy(), "cos": cos, "swirl": swirl}

    def potential(self, X):
        """``U(X) = Σ_j a_j ψ(z_j)`` (N,)."""
        return psi(self.pre(X), self.activation) @ self._a

    def grad_potential(self, X):
        """``∇U(X) = Σ_j a_j σ(z_j) v_j`` (N, d)."""
        return (sigma(self.pre(X), self.activation) * self._a) @ self.W_in

    def remainder(self, X):
        """``R(X) = Σ_j r_j σ(z_j)`` (N, d)."""
        return sigma(self.pre(X), self.activation) @ self._R.T

    def divergence(self, X):
        """Exact ``∇·f = ΔU = Σ_j a_j σ'(z_j) ||v_j||²`` (N,)."""
        return dsigma(self.pre(X), self.activation) @ (self._a * self._v2)

    def div_remainder(self, X):
        """Closed form ``∇·R = Σ_j σ'(z_j) r_j·v_j`` (N,); zero up to rounding."""
        rv = np.einsum("dj,jd->j", self._R, self.W_in)
        return dsigma(self.pre(X), self.activation) @ rv

    def entropy_rate_gaussian(self, scale=1.0):
        """Exact ``E[∇·f]`` under ``x ~ N(0, scale² I)``: Σ_j a_j ||v_j||² E σ'(z_j), z_j ~ N(b_j, scale² ||v_j||²)."""
        scale = check_float("scale", scale, low=0.0, low_open=True)
        e = gaussian_mean_dsigma(self.b_in, scale * np.sqrt(self._v2), self.activation)
        return float(e @ (self._a * self._v2))


def tied(W_in, b_in=None, activation="gelu"):
    """The tied MLP ``W_out = W_inᵀ`` (then every r_j = 0, a_j = 1)."""
    W_in = check_finite_array("W_in", W_in, ndim=2)
    return MLP(W_in, W_in.T.copy(), b_in, None, activation)


def fd_gradient(func, X, h=1e-5):
    """Central differences ``(g(x + h e_i) − g(x − h e_i)) / 2h`` of a scalar field g: (N, d) -> (N,)."""
    X = np.asarray(X, dtype=float)
    G = np.empty_like(X)
    for i in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, i] = h
        G[:, i] = (func(X + E) - func(X - E)) / (2 * h)
    return G


def fd_divergence(func, X, h=1e-5):
    """Central-difference divergence ``Σ_i (F_i(x + h e_i) − F_i(x − h e_i)) / 2h`` of F: (N, d) -> (N, d)."""
    X = np.asarray(X, dtype=float)
    div = np.zeros(X.shape[0])
    for i in range(X.shape[1]):
        E = np.zeros_like(X)
        E[:, i] = h
        div += (func(X + E)[:, i] - func(X - E)[:, i]) / (2 * h)
    return div


def check_decomposition(mlp, X, h=1e-5):
    """Check the split at the points X (N, d): closed forms against finite differences.

    Returns max over points of: ``decomposition_error`` = ||f − (∇U_fd + R + b_out)|| / ||f||
    with ∇U_fd the central-difference gradient of the closed-form U (``decomposition_abs_error``:
    the largest entry of |f − (∇U_fd + R + b_out)|); ``decomposition_error_closed``
    (the same with the closed-form ∇U); ``grad_U_error`` = ||∇U − ∇U_fd|| / max(||∇U||, 1);
    ``div_R_fd`` = |central-difference ∇·R|; ``div_R_closed``; ``div_f_error`` = |∇·f_fd − ΔU|.
    """
    X = mlp._X(X)
    h = check_float("h", h, low=0.0, low_open=True)
    f, R, gU = mlp(X), mlp.remainder(X), mlp.grad_potential(X)
    gU_fd = fd_gradient(mlp.potential, X, h)
    nf = np.maximum(np.linalg.norm(f, axis=1), np.finfo(float).tiny)
    err = f - (gU_fd + R + mlp.b_out)
    return {
        "decomposition_error": float(np.max(np.linalg.norm(err, axis=1) / nf)),
        "decomposition_abs_error": float(np.abs(err).max()),
        "decomposition_error_closed": float(np.max(np.linalg.norm(f - (gU + R + mlp.b_out), axis=1) / nf)),
        "grad_U_error": float(np.max(np.linalg.norm(gU - gU_fd, axis=1)
                                     / np.maximum(np.linalg.norm(gU, axis=1), 1.0))),
        "div_R_fd": float(np.max(np.abs(fd_divergence(mlp.remainder, X, h)))),
        "div_R_closed": float(np.max(np.abs(mlp.div_remainder(X)))),
        "div_f_error": float(np.max(np.abs(fd_divergence(mlp, X, h) - mlp.divergence(X)))),
    }


def energy(mlp, X):
    """Sample averages over X (N, d): ``E||f||²``, ``E||∇U||²``, ``E||R||²``, the energy ratio
    ``E||R||² / E||f||²``, the cross term ``E<∇U, R>``, and the entropy rate ``E[∇·f]`` (exact
    divergence at each point) with its standard error."""
    X = mlp._X(X)
    f, R, gU = mlp(X), mlp.remainder(X), mlp.grad_potential(X)
    div = mlp.divergence(X)
    ef, er = float(np.mean(np.sum(f * f, 1))), float(np.mean(np.sum(R * R, 1)))
    g = f - mlp.b_out
    return {
        "mean_sq_f": ef,
        "mean_sq_grad_U": float(np.mean(np.sum(gU * gU, 1))),
        "mean_sq_R": er,
        "energy_ratio": er / ef if ef > 0 else 0.0,
        "energy_ratio_without_b_out": er / float(np.mean(np.sum(g * g, 1))) if np.any(g) else 0.0,
        "cross_term": float(np.mean(np.sum(gU * R, 1))),
        "entropy_rate": float(div.mean()),
        "entropy_rate_se": float(div.std(ddof=1) / np.sqrt(len(div))) if len(div) > 1 else float("nan"),
    }


def abs_cos_histogram(W, bins=100):
    """Histogram of pairwise |cos| between the rows of W (i < j): ``(counts, edges)`` on [0, 1]."""
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    iu = np.triu_indices(U.shape[0], k=1)
    return np.histogram(np.abs(U @ U.T)[iu], bins=check_int("bins", bins, low=1), range=(0.0, 1.0))


def gaussian_like(shape, seed):
    """An iid N(0, 1) matrix of ``shape`` from ``SeedSequence(seed)`` (the random baseline)."""
    return np.random.default_rng(np.random.SeedSequence(seed)).standard_normal(shape)


def coherence(W_in, seed=0):
    """Coherence of the rows v_j of W_in and of a Gaussian dictionary of the same shape.

    Each entry holds :func:`csbench.encoders.coherence_stats` of the rows (``max_abs_cos``
    = μ, ``mean_abs_cos``, ``welch_bound``) plus ``hist`` (pairwise |cos| counts on 100 bins of [0, 1]).
    """
    W_in = check_finite_array("W_in", W_in, ndim=2)
    out = {}
    for label, W in (("dictionary", W_in), ("random", gaussian_like(W_in.shape, seed))):
        s = coherence_stats(W.T)
        s["hist"] = abs_cos_histogram(W)[0].tolist()
        out[label] = s
    return out


def summarize_alignment(al):
    """Scalar summaries of :meth:`MLP.alignment`: means, quantiles, fraction a_j > 0."""
    cos, sw, a = al["cos"], al["swirl"], al["a"]
    return {
        "mean_cos": float(cos.mean()), "median_cos": float(np.median(cos)),
        "q05_cos": float(np.quantile(cos, 0.05)), "q95_cos": float(np.quantile(cos, 0.95)),
        "mean_abs_cos": float(np.abs(cos).mean()), "frac_a_positive": float(np.mean(a > 0)),
        "mean_a": float(a.mean()), "mean_swirl": float(sw.mean()), "median_swirl": float(np.median(sw)),
    }


def diagnose(mlp, X_real=None, *, n_gauss=2000, n_check=20, seed=0, h=1e-5):
    """All seed-000 diagnostics of one MLP.

    Parameters
    ----------
    mlp : MLP
    X_real : array (N, d), optional
        A sample of real layer inputs (ρ = their empirical distribution).
    n_gauss : int
        Monte Carlo sample size for the N(0, I) energies (the entropy rate is exact).
    n_check : int
        Points (from each sample) at which :func:`check_decomposition` runs.
    seed : int
        Root of the ``SeedSequence`` for the Gaussian sample and the random baseline.
    """
    n_gauss = check_int("n_gauss", n_gauss, low=2)
    n_check = check_int("n_check", n_check, low=1)
    seed = check_int("seed", seed, low=0)
    h_, d = mlp.shape
    if X_real is not None:
        X_real = mlp._X(X_real)
    ss = np.random.SeedSequence(seed)
    s_gauss, s_rand = ss.spawn(2)
    Xg = np.random.default_rng(s_gauss).standard_normal((n_gauss, d))
    coh = coherence(mlp.W_in, seed=int(s_rand.generate_state(1)[0]))
    gauss = energy(mlp, Xg)
    gauss["entropy_rate_exact"] = mlp.entropy_rate_gaussian()
    checks = [check_decomposition(mlp, Xg[:n_check], h)]
    real = None
    if X_real is not None:
        real = energy(mlp, X_real)
        idx = np.linspace(0, len(X_real) - 1, min(n_check, len(X_real))).astype(int)
        checks.append(check_decomposition(mlp, X_real[idx], h))
    check = {k: max(c[k] for c in checks) for k in checks[0]}
    return {
        "shape": [h_, d], "activation": mlp.activation,
        "coherence": {k: {kk: vv for kk, vv in v.items()} for k, v in coh.items()},
        "alignment": summarize_alignment(mlp.alignment()),
        "gauss": gauss, "real": real, "check": check,
        "seed000_predicted_sign": SEED000_PREDICTED_SIGN,
    }
