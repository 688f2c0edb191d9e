"""Cross-modal two-covariance (PLDA-style) scoring back-end: scores are log-likelihood ratios.

Model (per modality ``m`` in {face, voice}, after centring and a PCA to ``n_pca`` dimensions fitted
on the training items): every identity ``i`` has a latent mean ``y_i = (y_i^f, y_i^v)``; an item of
modality ``m`` is ``x = y_i^m + w``, ``w ~ N(0, W_m)`` (the within-identity, session + item
variation of that modality); identity means are Gaussian, ``y ~ N(0, B)``, with between-identity
covariances ``B_ff``, ``B_vv`` and a cross-covariance ``C = cov(y^f, y^v)``, the only link between
the modalities. Then a face item and a voice item of one person are jointly Gaussian with covariance
``[[T_f, C], [C^T, T_v]]`` (``T_m = B_mm + W_m`` the total covariance), and of two different people
they are independent. The verification score is the exact log-likelihood ratio of the two::

    LLR(f, v) = log N([f; v]; 0, [[T_f, C], [C^T, T_v]]) - log N(f; 0, T_f) - log N(v; 0, T_v)

Whitening each side by ``T_m^(-1/2)`` and taking the SVD of the whitened cross-covariance gives
canonical pairs ``(a_j, b_j)`` with correlations ``rho_j``; the LLR is then a sum of independent
bivariate-normal terms (computed in that form)::

    LLR = sum_j  -½ log(1 - rho_j²) - (rho_j² (a_j² + b_j²) - 2 rho_j a_j b_j) / (2 (1 - rho_j²))

Regularisation (the only tuning, chosen on *validation* identities by :func:`select_plda`):
``n_cross`` leading PCA dimensions carry the cross-modal model, ``n_components`` canonical pairs
are kept (``C`` of that rank; the rest is treated as uncorrelated), and a ridge ``reg`` (relative
to the mean eigenvalue) is added to each ``T_m`` before whitening. With few identities per
dimension, sample canonical correlations are inflated and their directions noisy; a low rank and
a ridge trade that variance for bias.

Estimation (moments, training identities only): ``T_m`` is the item covariance; ``C`` averages
``(f - mu_f)(v - mu_v)^T`` over *every* same-identity face–voice pair (identity means weighted by
``n_f n_v``), which is unbiased since the two modalities' within-identity variations are
independent; ``W_m`` is the pooled within-identity covariance, ``B_mm = T_m - W_m`` (clipped to be
positive semi-definite).

Identity memory (``seen_prior > 0``). The training identities are known people: a test item may
belong to one of them (the seen-heard protocol). The back-end then scores with the mixture that a
Bayesian would: the person is one of the ``N`` training identities with prior ``seen_prior``
(uniform over them) or a new one. Per modality, the predictive of a new item of training identity
``i`` given its ``n_i`` training items (mean ``x̄_i``) is the usual two-covariance posterior
predictive ``N(G x̄_i, W + B - G B)`` with ``G = B (B + W / n_i)^(-1)``, in all ``n_pca``
dimensions (the modality-specific ones identify a person within a modality). With per-item
posteriors ``q_f(i)`` ("face f is training identity i") and ``q_f(new)``, and likewise for the
voice, the LLR becomes exactly::

    LLR = log[ (N / seen_prior) sum_i q_f(i) q_v(i) + q_f(new) q_v(new) exp(LLR_new(f, v)) / (1 - seen_prior) ]

which reduces to ``LLR_new`` (plus a constant) for items unlike any training identity. Posteriors lie
in [0, 1], so the sum over identities is one matrix product without overflow. ``seen_prior`` is a
prior, not a fitted value (validation identities are all unseen, so validation cannot choose it);
the default 1e-9 (about one training identity among the world's people) left the validation EER
of simvox1 unchanged where 1e-6 cost 0.1 points, while training identities, whose within-modality
evidence is strong, are still recognised (docs/backends.md).

Implementation note: the Gaussian algebra is written out (eigendecompositions, one SVD) rather than
taken from a PLDA package: no maintained Python PLDA library covers the cross-modal, reduced-rank
case. The PCA is scikit-learn's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from facevoice.backends.scores import gaussian_llr_matrix, gaussian_llr_pairs

__all__ = ["CrossModalPLDA", "PLDASelection", "select_plda", "DEFAULT_GRID", "DEFAULT_POINT"]

MODALITIES = ("face", "voice")
#: the validation grid of :func:`select_plda` (every combination that fits the data is tried)
DEFAULT_GRID: dict[str, tuple[Any, ...]] = {
    "n_cross": (8, 16, 32, 64),
    "n_components": (2, 4, 8, 12, 16),
    "reg": (0.001, 0.03, 0.1, 0.3, 1.0, 3.0),
    "n_mix": (1, 2, 4),
}
#: the back-end's settings when there are no validation identities to choose them
DEFAULT_POINT: dict[str, Any] = {"n_cross": 32, "n_components": 8, "reg": 0.03, "n_mix": 1}
_RHO_MAX = 1.0 - 1e-6
_CHUNK = 1 << 22  # scalar entries per chunk of a pair / matrix computation


class CrossModalPLDA:
    """Cross-modal two-covariance back-end (module docstring): ``fit`` on training items, LLR scores.

    Args:
        n_pca: PCA dimensions per modality (the within-modality model of the identity memory);
            clipped to the input size and the number of training items.
        n_cross: leading PCA dimensions of the cross-modal model (<= n_pca after clipping).
        n_components: canonical pairs kept (rank of the cross-covariance).
        reg: ridge on each total covariance before whitening, relative to its mean eigenvalue.
        seen_prior: prior probability that a test person is one of the training identities
            (0 turns the identity memory off).
        seed: PCA / mixture random state.
        n_mix: latent classes of people (1: one Gaussian; more: :class:`_LatentMixture` in the
            canonical space, module docstring).

    After :meth:`fit`: ``mean_``, ``components_`` (per modality, PCA), ``proj_`` (per modality,
    (min(n_cross, n_pca), k) canonical directions), ``rho_`` (k,), ``n_identities_``, and with the memory
    ``memory_`` (per modality :class:`_Memory`).

    It is a :class:`~facevoice.backends.scores.ScoreBackend`: :meth:`vectors`, :meth:`pair_scores`,
    :meth:`matrix_scores` (LLRs); :meth:`score_pairs` / :meth:`score_matrix` take inputs directly.
    """

    llr = True

    def __init__(
        self,
        n_pca: int = 64,
        n_cross: int = 32,
        n_components: int = 8,
        reg: float = 0.03,
        seen_prior: float = 1e-9,
        seed: int = 0,
        n_mix: int = 1,
    ) -> None:
        if min(int(n_pca), int(n_cross), int(n_components), int(n_mix)) < 1:
            raise ValueError(
                f"n_pca, n_cross, n_components and n_mix must be >= 1, got {n_pca}, {n_cross}, {n_components}, {n_mix}"
            )
        if float(reg) < 0:
            raise ValueError(f"reg must be >= 0, got {reg}")
        if not 0.0 <= float(seen_prior) < 1.0:
            raise ValueError(f"seen_prior must lie in [0, 1), got {seen_prior}")
        self.n_pca, self.n_cross, self.n_components = int(n_pca), int(n_cross), int(n_components)
        self.reg, self.seen_prior, self.seed, self.n_mix = float(reg), float(seen_prior), int(seed), int(n_mix)

    # -- fitting ---------------------------------------------------------------------------------
    def fit(
        self, face_X: np.ndarray, face_ids: Sequence[str], voice_X: np.ndarray, voice_ids: Sequence[str]
    ) -> CrossModalPLDA:
        """Fit on training items: ``face_X (Nf, Df)`` with identities ``face_ids (Nf,)``, likewise voice."""
        data = _prepare(face_X, face_ids, voice_X, voice_ids)
        return self._fit_from(_Projected.compute(data, self.n_pca, self.seed))

    def _fit_from(self, proj: _Projected) -> CrossModalPLDA:
        """Fit on training items already projected on (at least) ``n_pca`` principal components."""
        self.mean_, self.components_ = {}, {}
        Z = {}
        for m in MODALITIES:
            d = min(self.n_pca, proj.components[m].shape[0])
            self.mean_[m], self.components_[m] = proj.mean[m], proj.components[m][:d]
            Z[m] = proj.Z[m][:, :d]
        stats = _identity_stats(Z, proj.ids)
        self.n_identities_ = len(stats["common"])
        self._fit_cross(Z, stats)
        self.mixture_ = None
        if self.n_mix > 1:
            a = {m: Z[m][:, : self.proj_[m].shape[0]] @ self.proj_[m] for m in MODALITIES}
            self.mixture_ = _LatentMixture.fit(a, proj.ids, self.n_mix, self.seed)
        self.memory_ = None
        if self.seen_prior > 0:
            self.memory_ = {m: _Memory.fit(Z[m], stats, m) for m in MODALITIES}
            self.identities_ = stats["common"]
        return self

    def _fit_cross(self, Z: Mapping[str, np.ndarray], stats: Mapping[str, Any]) -> None:
        """Canonical directions and correlations on the ``n_cross`` leading PCA dimensions of each side."""
        d = {m: min(self.n_cross, Z[m].shape[1]) for m in MODALITIES}
        Zf, Zv = Z["face"][:, : d["face"]], Z["voice"][:, : d["voice"]]
        Mf, Mv = stats["means"]["face"][:, : d["face"]], stats["means"]["voice"][:, : d["voice"]]
        w = stats["counts"]["face"] * stats["counts"]["voice"]
        C = (Mf * w[:, None]).T @ Mv / w.sum()
        Af, Av = _inv_sqrt(np.cov(Zf.T, ddof=1), self.reg), _inv_sqrt(np.cov(Zv.T, ddof=1), self.reg)
        U, s, Vt = np.linalg.svd(Af @ np.atleast_2d(C) @ Av)
        k = min(self.n_components, len(s))
        self.proj_ = {"face": Af @ U[:, :k], "voice": Av @ Vt.T[:, :k]}
        self.rho_ = np.clip(s[:k], 0.0, _RHO_MAX)

    # -- transforms --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "rho_"):
            raise RuntimeError("CrossModalPLDA used before fit")

    def pca(self, X: np.ndarray, modality: str) -> np.ndarray:
        """PCA coordinates ``(n, n_pca)`` of inputs ``X (n, D_modality)``."""
        self._check_fitted()
        if modality not in MODALITIES:
            raise ValueError(f"modality must be 'face' or 'voice', got {modality!r}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_[modality].shape[0]:
            raise ValueError(
                f"{modality} inputs must have shape (n, {self.mean_[modality].shape[0]}), got {tuple(X.shape)}"
            )
        return (X - self.mean_[modality]) @ self.components_[modality].T

    def canonical(self, X: np.ndarray, modality: str) -> np.ndarray:
        """Canonical coordinates ``(n, k)`` (unit variance on the training items, correlations ``rho_``)."""
        return self.pca(X, modality)[:, : self.proj_[modality].shape[0]] @ self.proj_[modality]

    def full_projections(self) -> dict[str, np.ndarray]:
        """Canonical directions in input space: ``(D_in, k)`` per modality (``a = (x - mean_) @ P``)."""
        self._check_fitted()
        return {m: self.components_[m][: self.proj_[m].shape[0]].T @ self.proj_[m] for m in MODALITIES}

    @property
    def _cross_width(self) -> int:
        return len(self.rho_) + (0 if self.mixture_ is None else self.mixture_.n_mix + 1)

    @property
    def vector_size(self) -> int:
        """Length of :meth:`vectors` rows: k canonical coordinates (+ K + 1 mixture terms) (+ 1 + N with
        the identity memory)."""
        self._check_fitted()
        return self._cross_width + (0 if self.memory_ is None else 1 + self.n_identities_)

    def vectors(self, X: np.ndarray, modality: str) -> np.ndarray:
        """Per-item scoring vectors ``(n, vector_size)`` of inputs ``X (n, D_modality)``.

        ``[canonical coordinates (k) | mixture terms (K + 1) | log q(new) | log q(i) for the N training
        identities]`` (mixture terms with ``n_mix > 1``, the last two with the identity memory);
        :meth:`pair_scores` / :meth:`matrix_scores` combine them, so items are projected once however
        many trials they appear in.
        """
        Z = self.pca(X, modality)
        a = Z[:, : self.proj_[modality].shape[0]] @ self.proj_[modality]
        if self.mixture_ is not None:
            a = np.hstack([a, self.mixture_.item_terms(a, modality)])
        if self.memory_ is None:
            return a
        log_q, log_new = self.memory_[modality].log_posteriors(Z, self.seen_prior)
        return np.hstack([a, log_new[:, None], log_q])

    def _split(self, vec: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        vec = np.asarray(vec, dtype=np.float64)
        if vec.ndim != 2 or vec.shape[1] != self.vector_size:
            raise ValueError(f"scoring vectors must have shape (n, {self.vector_size}), got {tuple(vec.shape)}")
        k = self._cross_width
        if self.memory_ is None:
            return vec, None, None
        return vec[:, :k], vec[:, k + 1 :], vec[:, k]

    def _cross_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.mixture_ is None:
            return gaussian_llr_pairs(self.rho_, a, b)
        return self.mixture_.llr_pairs(a, b, len(self.rho_))

    def _cross_matrix(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.mixture_ is None:
            return gaussian_llr_matrix(self.rho_, a, b)
        return self.mixture_.llr_matrix(a, b, len(self.rho_))

    # -- scores ------------------------------------------------------------------------------------
    def _combine(self, lx, lq_f, ln_f, lq_v, ln_v, pairs: bool) -> np.ndarray:
        if lq_f is None:
            return lx
        n_ids = lq_f.shape[1]
        if pairs:
            seen = logsumexp(lq_f + lq_v, axis=1)
            new = lx + ln_f + ln_v
        else:
            with np.errstate(divide="ignore"):  # a product of posteriors that underflows is log 0
                seen = np.log(np.exp(lq_f) @ np.exp(lq_v).T)
            new = lx + ln_f[:, None] + ln_v[None, :]
        return np.logaddexp(np.log(n_ids / self.seen_prior) + seen, new - np.log1p(-self.seen_prior))

    def pair_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        """LLRs ``(n,)`` of row-aligned scoring vectors (:meth:`vectors`) of faces and voices."""
        self._check_fitted()
        if len(face_vec) != len(voice_vec):
            raise ValueError(
                f"pair_scores needs row-aligned rows, got {len(face_vec)} faces and {len(voice_vec)} voices"
            )
        a, lq_f, ln_f = self._split(face_vec)
        b, lq_v, ln_v = self._split(voice_vec)
        return self._combine(self._cross_pairs(a, b), lq_f, ln_f, lq_v, ln_v, pairs=True)

    def matrix_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        """LLRs ``(nf, nv)`` of every face scoring vector against every voice scoring vector."""
        self._check_fitted()
        a, lq_f, ln_f = self._split(face_vec)
        b, lq_v, ln_v = self._split(voice_vec)
        out = np.empty((len(a), len(b)), dtype=np.float64)
        step = max(1, _CHUNK // max(len(b), 1))
        for s in range(0, len(a), step):
            sl = slice(s, s + step)
            part = [None if x is None else x[sl] for x in (lq_f, ln_f)]
            out[sl] = self._combine(self._cross_matrix(a[sl], b), part[0], part[1], lq_v, ln_v, pairs=False)
        return out

    def score_pairs(self, face_X: np.ndarray, voice_X: np.ndarray) -> np.ndarray:
        """LLRs ``(n,)`` of row-aligned face ``(n, Df)`` and voice ``(n, Dv)`` inputs."""
        return self.pair_scores(self.vectors(face_X, "face"), self.vectors(voice_X, "voice"))

    def score_matrix(self, face_X: np.ndarray, voice_X: np.ndarray) -> np.ndarray:
        """LLRs ``(nf, nv)`` of every face input ``(nf, Df)`` against every voice input ``(nv, Dv)``."""
        return self.matrix_scores(self.vectors(face_X, "face"), self.vectors(voice_X, "voice"))

    # -- persistence -----------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Every fitted array and parameter as a dict of numpy arrays / numbers (for checkpoints)."""
        self._check_fitted()
        state: dict[str, Any] = {
            "params": {
                k: getattr(self, k) for k in ("n_pca", "n_cross", "n_components", "reg", "seen_prior", "seed", "n_mix")
            },
            "n_identities_": int(self.n_identities_),
            "rho_": self.rho_,
        }
        for m in MODALITIES:
            state[f"{m}_mean"], state[f"{m}_components"], state[f"{m}_proj"] = (
                self.mean_[m],
                self.components_[m],
                self.proj_[m],
            )
            if self.memory_ is not None:
                state[f"{m}_memory"] = self.memory_[m].get_state()
        if self.mixture_ is not None:
            state["mixture"] = self.mixture_.get_state()
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CrossModalPLDA:
        """Rebuild a fitted back-end from :meth:`get_state`."""
        obj = cls(**dict(state["params"]))
        obj.n_identities_ = int(state["n_identities_"])
        obj.rho_ = np.asarray(state["rho_"], dtype=np.float64)
        obj.mean_ = {m: np.asarray(state[f"{m}_mean"], dtype=np.float64) for m in MODALITIES}
        obj.components_ = {m: np.asarray(state[f"{m}_components"], dtype=np.float64) for m in MODALITIES}
        obj.proj_ = {m: np.asarray(state[f"{m}_proj"], dtype=np.float64) for m in MODALITIES}
        obj.mixture_ = _LatentMixture.from_state(state["mixture"]) if "mixture" in state else None
        obj.memory_ = None
        if "face_memory" in state:
            obj.memory_ = {m: _Memory.from_state(state[f"{m}_memory"]) for m in MODALITIES}
        return obj


@dataclass
class _LatentMixture:
    """Latent classes of people in the canonical space: a mixture of ``n_mix`` joint Gaussians.

    The single-Gaussian model takes the distribution of identities as Gaussian; real populations are
    not (gender, for one, splits every shared direction). Here identity means ``(ā, b̄)`` follow a
    mixture with a shared ("tied") covariance, fitted on the training identities' canonical means
    (scikit-learn's ``GaussianMixture``); the item-pair covariance adds the within-identity
    variation back (``S = Σ_tied + blockdiag(W_a, W_b)(1 - 1/n̄)``). Then::

        LLR(a, b) = log Σ_c w_c N([a; b]; μ_c, S) - log Σ_c w_c N(a; μ_c^a, S_aa) - log Σ_c w_c N(b; μ_c^b, S_bb)

    Expanding the exponent, ``log N([a; b]; μ_c, S) = const - ½ aᵀP_aa a - ½ bᵀP_bb b - aᵀP_ab b
    + A_c(a) + B_c(b)``: the class-dependent part separates into a face term and a voice term, so
    a face item carries ``A (K,)`` and one number, and a whole matrix costs one log-sum-exp over K.
    """

    log_w: np.ndarray  # (K,)
    P: np.ndarray  # (2k, 2k) inverse item-pair covariance
    Pmu: np.ndarray  # (K, 2k)
    mu_P_mu: np.ndarray  # (K,)
    const: float  # -½ log |2π S|
    marg_mu: np.ndarray  # (K, 2k) class means (for the marginals)
    marg_P: np.ndarray  # (2, k, k) inverse marginal covariances (face, voice)
    marg_const: np.ndarray  # (2,)

    @property
    def n_mix(self) -> int:
        return len(self.log_w)

    @classmethod
    def fit(cls, a: Mapping[str, np.ndarray], ids: Mapping[str, np.ndarray], n_mix: int, seed: int) -> _LatentMixture:
        from sklearn.mixture import GaussianMixture

        stats = _identity_stats(a, ids)
        Y = np.hstack([stats["means"]["face"], stats["means"]["voice"]])
        gm = GaussianMixture(n_mix, covariance_type="tied", n_init=3, reg_covar=1e-4, random_state=seed).fit(Y)
        k = a["face"].shape[1]
        S = np.array(gm.covariances_, dtype=np.float64)
        for j, m in enumerate(MODALITIES):
            n_bar = float(np.mean(stats["counts"][m]))
            blk = slice(j * k, (j + 1) * k)
            S[blk, blk] += stats["within"][m] * (1.0 - 1.0 / n_bar)
        S = _psd(S)
        P = np.linalg.inv(S)
        mu = np.asarray(gm.means_, dtype=np.float64)
        marg_P, marg_const = [], []
        for j in range(2):
            blk = slice(j * k, (j + 1) * k)
            marg_P.append(np.linalg.inv(S[blk, blk]))
            marg_const.append(-0.5 * (np.linalg.slogdet(S[blk, blk])[1] + k * np.log(2 * np.pi)))
        return cls(
            np.log(np.asarray(gm.weights_, dtype=np.float64)),
            P,
            mu @ P,
            np.einsum("cd,de,ce->c", mu, P, mu),
            float(-0.5 * (np.linalg.slogdet(S)[1] + 2 * k * np.log(2 * np.pi))),
            mu,
            np.stack(marg_P),
            np.asarray(marg_const),
        )

    def item_terms(self, a: np.ndarray, modality: str) -> np.ndarray:
        """``[A_c(a) for c (K) | -½ aᵀP a - log p(a)]`` for canonical coordinates ``a (n, k)``: ``(n, K + 1)``."""
        k = a.shape[1]
        j = MODALITIES.index(modality)
        blk = slice(j * k, (j + 1) * k)
        lin = a @ self.Pmu[:, blk].T  # (n, K)
        if j == 0:
            lin = lin + self.log_w - 0.5 * self.mu_P_mu
        d = a[:, None, :] - self.marg_mu[None, :, blk]  # (n, K, k)
        log_marg = logsumexp(self.log_w - 0.5 * np.einsum("nck,kl,ncl->nc", d, self.marg_P[j], d), axis=1)
        quad = -0.5 * np.einsum("nk,kl,nl->n", a, self.P[blk, blk], a)
        return np.hstack([lin, (quad - log_marg - self.marg_const[j])[:, None]])

    def llr_pairs(self, fa: np.ndarray, vb: np.ndarray, k: int) -> np.ndarray:
        a, A, ea = fa[:, :k], fa[:, k:-1], fa[:, -1]
        b, B, eb = vb[:, :k], vb[:, k:-1], vb[:, -1]
        cross = np.einsum("nk,kl,nl->n", a, self.P[:k, k:], b)
        return self.const - cross + logsumexp(A + B, axis=1) + ea + eb

    def llr_matrix(self, fa: np.ndarray, vb: np.ndarray, k: int) -> np.ndarray:
        a, A, ea = fa[:, :k], fa[:, k:-1], fa[:, -1]
        b, B, eb = vb[:, :k], vb[:, k:-1], vb[:, -1]
        out = A[:, 0][:, None] + B[:, 0][None, :]
        for c in range(1, A.shape[1]):
            out = np.logaddexp(out, A[:, c][:, None] + B[:, c][None, :])
        return self.const - (a @ self.P[:k, k:]) @ b.T + out + ea[:, None] + eb[None, :]

    def get_state(self) -> dict[str, Any]:
        keys = ("log_w", "P", "Pmu", "mu_P_mu", "const", "marg_mu", "marg_P", "marg_const")
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _LatentMixture:
        s = dict(state)
        arr = {k: np.asarray(s[k], dtype=np.float64) for k in ("log_w", "P", "Pmu", "mu_P_mu", "marg_mu", "marg_P")}
        return cls(const=float(s["const"]), marg_const=np.asarray(s["marg_const"]), **arr)


@dataclass
class _Memory:
    """Within-modality posterior predictive of each training identity (module docstring)."""

    W: np.ndarray  # (D, D) within-identity covariance
    T_inv: np.ndarray  # (D, D) inverse total covariance (a new identity's item)
    logdet_T: float
    means: np.ndarray  # (N, D) predictive means G_n x̄_i
    group: np.ndarray  # (N,) index into the per-count predictive covariances
    S_inv: np.ndarray  # (G, D, D)
    logdet_S: np.ndarray  # (G,)

    @classmethod
    def fit(cls, Z: np.ndarray, stats: Mapping[str, Any], modality: str) -> _Memory:
        T = _psd(np.cov(Z.T, ddof=1).reshape(Z.shape[1], Z.shape[1]))
        W = _psd(stats["within"][modality])  # floored: a direction without within-identity spread
        B = _psd(T - W)
        counts = stats["counts"][modality]
        uniq, group = np.unique(counts, return_inverse=True)
        means = np.empty((len(counts), Z.shape[1]))
        S_inv, logdet = [], []
        for g, n in enumerate(uniq):
            G = np.linalg.solve((B + W / n).T, B.T).T  # B (B + W/n)^-1
            rows = group == g
            means[rows] = stats["means"][modality][rows] @ G.T
            S = _sym(W + B - G @ B)
            S_inv.append(np.linalg.inv(S))
            logdet.append(np.linalg.slogdet(S)[1])
        T_inv = np.linalg.inv(_sym(T))
        return cls(W, T_inv, float(np.linalg.slogdet(T)[1]), means, group, np.stack(S_inv), np.asarray(logdet))

    def log_ratio(self, Z: np.ndarray) -> np.ndarray:
        """``log p(z | identity i) - log p(z | new identity)``: ``(n, N)``."""
        out = np.empty((len(Z), len(self.means)))
        qT = np.einsum("nd,de,ne->n", Z, self.T_inv, Z)
        for g in range(len(self.S_inv)):
            rows = self.group == g
            M, Si = self.means[rows], self.S_inv[g]
            q = np.einsum("nd,de,ne->n", Z, Si, Z)[:, None] - 2.0 * (Z @ Si) @ M.T + np.einsum("cd,de,ce->c", M, Si, M)
            out[:, rows] = -0.5 * (q + self.logdet_S[g]) + 0.5 * (qT[:, None] + self.logdet_T)
        return out

    def log_posteriors(self, Z: np.ndarray, seen_prior: float) -> tuple[np.ndarray, np.ndarray]:
        """``log q(i) (n, N)`` and ``log q(new) (n,)`` under the seen / new prior."""
        a = self.log_ratio(Z) + np.log(seen_prior / len(self.means))
        log_z = np.logaddexp(logsumexp(a, axis=1), np.log1p(-seen_prior))
        return a - log_z[:, None], np.log1p(-seen_prior) - log_z

    def get_state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("W", "T_inv", "logdet_T", "means", "group", "S_inv", "logdet_S")}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _Memory:
        s = dict(state)
        return cls(
            np.asarray(s["W"]),
            np.asarray(s["T_inv"]),
            float(s["logdet_T"]),
            np.asarray(s["means"]),
            np.asarray(s["group"], dtype=np.int64),
            np.asarray(s["S_inv"]),
            np.asarray(s["logdet_S"]),
        )


# -- selection on validation identities ------------------------------------------------------------
@dataclass
class PLDASelection:
    """Result of :func:`select_plda`: the fitted back-end, its parameters and the whole grid."""

    backend: CrossModalPLDA
    params: dict[str, Any]
    table: pd.DataFrame  # one row per grid point: parameters, val_criterion, selected


def select_plda(
    train: Mapping[str, tuple[np.ndarray, Sequence[str]]],
    val: Mapping[str, tuple[np.ndarray, Sequence[str]]],
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    criterion: Callable[[np.ndarray, np.ndarray], float],
    n_pca: int = 64,
    seen_prior: float = 1e-9,
    seed: int = 0,
    max_items: int = 2000,
) -> PLDASelection:
    """Fit :class:`CrossModalPLDA` on ``train`` for every point of ``grid``; keep the best on ``val``.

    ``train`` / ``val``: ``{"face": (X (n, Df), identities (n,)), "voice": (...)}``.
    ``criterion(scores (n,), labels (n,)) -> float`` (lower is better; the library passes the EER from
    ``facevoice.eval.metrics``, a layer above this one) is computed over every voice x face pair of the
    validation identities, scored without the identity memory (validation identities are unseen).
    At most ``max_items`` validation items per modality are used (a seeded subsample: 2,000 faces x
    2,000 voices are 4 million pairs, ~1 s per grid point, plenty for an EER). Ties keep the
    simpler model (fewer classes, fewer dimensions, stronger ridge). ``n_cross`` x ``n_components`` x
    ``reg`` are searched with one Gaussian, then each ``n_mix`` of the grid is tried at the best of
    those points. The PCA is computed once (its leading components are nested).
    """
    grid = {**DEFAULT_GRID, **dict(grid or {})}
    unknown = sorted(set(grid) - set(DEFAULT_GRID))
    if unknown:
        raise ValueError(f"unknown back-end grid key(s) {unknown}; valid: {sorted(DEFAULT_GRID)}")
    data = _prepare(train["face"][0], train["face"][1], train["voice"][0], train["voice"][1])
    proj = _Projected.compute(data, max(n_pca, *grid["n_cross"]), seed)
    rng = np.random.default_rng(seed)
    vx = {}
    for m in MODALITIES:
        X, ids = np.asarray(val[m][0], dtype=np.float64), np.asarray(val[m][1]).astype(str)
        keep = np.sort(rng.choice(len(X), size=min(max_items, len(X)), replace=False))
        vx[m] = (X[keep], ids[keep])
    same = (vx["voice"][1][None, :] == vx["face"][1][:, None]).ravel().astype(np.int8)
    if same.all() or not same.any():
        raise ValueError("back-end selection needs validation pairs of both kinds (>= 2 identities in both modalities)")

    def evaluate(point: dict[str, Any]) -> dict[str, Any]:
        model = CrossModalPLDA(point["n_cross"], seen_prior=0.0, seed=seed, **point)._fit_from(proj)
        S = model.score_matrix(vx["face"][0], vx["voice"][0]).ravel()
        return {**point, "val_criterion": float(criterion(S, same))}

    rows = []
    for n_cross, reg in itertools.product(grid["n_cross"], grid["reg"]):
        dims = [min(int(n_cross), proj.components[m].shape[0]) for m in MODALITIES]
        if any(r["n_cross"] == max(dims) and r["reg"] == float(reg) for r in rows):
            continue  # clipped to the same model as an earlier point
        ks = sorted({min(int(k), *dims) for k in grid["n_components"]})
        # one fit with the most components: fewer components are its leading canonical pairs
        model = CrossModalPLDA(max(dims), max(dims), ks[-1], float(reg), 0.0, seed)._fit_from(proj)
        a, b = model.canonical(vx["face"][0], "face"), model.canonical(vx["voice"][0], "voice")
        for k in ks:
            S = gaussian_llr_matrix(model.rho_[:k], a[:, :k], b[:, :k]).ravel()
            point = {"n_cross": max(dims), "n_components": k, "reg": float(reg), "n_mix": 1}
            rows.append({**point, "val_criterion": float(criterion(S, same))})
    table = pd.DataFrame(rows)
    # then the latent classes, for the best single-Gaussian point (one more fit per mixture size)
    first = table.sort_values(["val_criterion", "n_cross", "n_components", "reg"], ascending=[True, True, True, False])
    base = {c: first.iloc[0][c] for c in ("n_cross", "n_components", "reg")}
    base = {"n_cross": int(base["n_cross"]), "n_components": int(base["n_components"]), "reg": float(base["reg"])}
    extra = [evaluate({**base, "n_mix": int(n)}) for n in grid["n_mix"] if int(n) > 1]
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if extra else table
    order = table.sort_values(
        ["val_criterion", "n_mix", "n_cross", "n_components", "reg"], ascending=[True, True, True, True, False]
    )
    best = order.iloc[0]
    params = {
        "n_pca": int(max(n_pca, best["n_cross"])),
        "n_cross": int(best["n_cross"]),
        "n_components": int(best["n_components"]),
        "reg": float(best["reg"]),
        "n_mix": int(best["n_mix"]),
        "seen_prior": float(seen_prior),
        "seed": int(seed),
    }
    backend = CrossModalPLDA(**params)._fit_from(proj)
    table["selected"] = False
    table.loc[best.name, "selected"] = True
    return PLDASelection(backend, params, table)


# -- helpers ---------------------------------------------------------------------------------------
def _prepare(face_X, face_ids, voice_X, voice_ids) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for m, X, ids in (("face", face_X, face_ids), ("voice", voice_X, voice_ids)):
        X = np.asarray(X, dtype=np.float64)
        ids = np.asarray(ids).astype(str)
        if X.ndim != 2 or len(X) != len(ids):
            raise ValueError(f"{m}: need a (n, D) matrix with one identity per row, got {X.shape} and {len(ids)} ids")
        if not np.isfinite(X).all():
            raise ValueError(f"{m}: {int((~np.isfinite(X)).any(axis=1).sum())} row(s) with NaN/inf")
        out[m] = (X, ids)
    common = np.intersect1d(out["face"][1], out["voice"][1])
    if len(common) < 3:
        raise ValueError(f"the back-end needs >= 3 identities with items of both modalities, found {len(common)}")
    return out


@dataclass
class _Projected:
    """Training items on their leading principal components, per modality (computed once for a grid)."""

    mean: dict[str, np.ndarray]  # (D_in,)
    components: dict[str, np.ndarray]  # (n, D_in), orthonormal rows, leading first
    Z: dict[str, np.ndarray]  # (N_items, n)
    ids: dict[str, np.ndarray]  # (N_items,)

    @classmethod
    def compute(cls, data: Mapping[str, tuple[np.ndarray, np.ndarray]], n: int, seed: int) -> _Projected:
        """scikit-learn PCA per modality with ``min(n, D_in, N_items - 1)`` components."""
        from sklearn.decomposition import PCA

        mean, comps, Z = {}, {}, {}
        for m in MODALITIES:
            X = data[m][0]
            k = max(1, min(int(n), X.shape[1], len(X) - 1))
            solver = "full" if min(X.shape) <= 1000 else "randomized"
            pca = PCA(n_components=k, svd_solver=solver, random_state=seed).fit(X)
            var = pca.explained_variance_
            keep = max(1, int((var > 1e-10 * max(float(var[0]), 1e-300)).sum()))  # drop null directions
            mean[m], comps[m] = pca.mean_.astype(np.float64), pca.components_[:keep].astype(np.float64)
            Z[m] = (X - mean[m]) @ comps[m].T
        return cls(mean, comps, Z, {m: data[m][1] for m in MODALITIES})


def _identity_stats(Z: Mapping[str, np.ndarray], ids: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per modality: identity means and counts over the identities common to both, within covariance."""
    common = np.intersect1d(ids["face"], ids["voice"])
    means, counts, within = {}, {}, {}
    for m in MODALITIES:
        uniq, inv = np.unique(ids[m], return_inverse=True)
        cnt = np.bincount(inv).astype(np.float64)
        M = np.zeros((len(uniq), Z[m].shape[1]))
        np.add.at(M, inv, Z[m])
        M /= cnt[:, None]
        R = Z[m] - M[inv]
        dof = max(len(Z[m]) - len(uniq), 1)
        within[m] = _sym(R.T @ R / dof)
        pos = np.searchsorted(uniq, common)
        means[m], counts[m] = M[pos], cnt[pos]
    return {"common": common, "means": means, "counts": counts, "within": within}


def _sym(A: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T)


def _psd(A: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Nearest PSD matrix with eigenvalues floored at ``floor`` x the largest."""
    w, Q = np.linalg.eigh(_sym(A))
    w = np.maximum(w, floor * max(float(w.max()), 1e-12))
    return (Q * w) @ Q.T


def _inv_sqrt(C: np.ndarray, reg: float) -> np.ndarray:
    """``(C + reg tr(C)/d I)^(-1/2)`` for a symmetric PSD ``C``."""
    C = np.atleast_2d(C)
    d = C.shape[0]
    w, Q = np.linalg.eigh(_sym(C) + reg * np.trace(C) / d * np.eye(d))
    return (Q / np.sqrt(np.maximum(w, 1e-12 * max(float(w.max()), 1e-12)))) @ Q.T
