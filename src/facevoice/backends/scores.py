"""How two embedded items become one score: the scoring back-end interface and its two simple members.

A *score back-end* turns each item's embedding into a scoring vector once (``vectors``) and then
scores row-aligned pairs (``pair_scores``) or whole face x voice matrices (``matrix_scores``), so
that a retrieval matrix or a trial list never projects an item twice. ``llr`` says whether the
scores are log-likelihood ratios (natural log), i.e. whether calibration figures (Cllr, actual
DCF) mean anything for them.

* :class:`CosineScore`: L2-normalised vectors, dot products: what every published method uses.
* :class:`GaussianLLR`: the cross-modal Gaussian log-likelihood ratio of canonical coordinates
  (unit variance, per-pair correlations ``rho``), the core of :class:`~facevoice.backends.plda.CrossModalPLDA`
  and of the training head of the ``xplda`` method.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["COSINE", "CosineScore", "GaussianLLR", "ScoreBackend", "gaussian_llr_matrix", "gaussian_llr_pairs"]


@runtime_checkable
class ScoreBackend(Protocol):
    """What the evaluation engine, validation and the feature-list scorer need from a scoring back-end."""

    llr: bool

    def vectors(self, X: np.ndarray, modality: str) -> np.ndarray:
        """Scoring vectors ``(n, S)`` of embeddings ``X (n, D)`` of one modality."""
        ...

    def pair_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        """Scores ``(n,)`` of row-aligned face and voice scoring vectors."""
        ...

    def matrix_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        """Scores ``(nf, nv)`` of every face vector against every voice vector."""
        ...


class CosineScore:
    """Cosine similarity: rows L2-normalised once, then dot products (float64)."""

    llr = False

    def vectors(self, X: np.ndarray, modality: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        norm = np.linalg.norm(X, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError(f"{modality} embeddings: {int((norm == 0).sum())} zero vector(s) have no cosine")
        return X / norm

    def pair_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return np.einsum("nd,nd->n", face_vec, voice_vec)

    def matrix_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return np.asarray(face_vec @ voice_vec.T, dtype=np.float64)


COSINE = CosineScore()


def gaussian_llr_pairs(rho: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_j log N2((a_j, b_j); rho_j) - log N(a_j) N(b_j)`` for row-aligned ``a, b (n, k)``: ``(n,)``.

    Each canonical pair is standard bivariate normal with correlation ``rho_j`` under "same person"
    and independent standard normal under "different people"::

        LLR_j = -½ log(1 - rho²) - (rho² (a² + b²) - 2 rho a b) / (2 (1 - rho²))
    """
    r2 = rho * rho
    c = 1.0 / (2.0 * (1.0 - r2))
    return np.sum(-0.5 * np.log1p(-r2) - c * (r2 * (a * a + b * b) - 2.0 * rho * a * b), axis=-1)


def gaussian_llr_matrix(rho: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`gaussian_llr_pairs` for every row of ``a (nf, k)`` against every row of ``b (nv, k)``: ``(nf, nv)``."""
    r2 = rho * rho
    c = 1.0 / (2.0 * (1.0 - r2))
    qa = (a * a * (r2 * c)).sum(1)
    qb = (b * b * (r2 * c)).sum(1)
    return -0.5 * np.log1p(-r2).sum() - qa[:, None] - qb[None, :] + (a * (2.0 * rho * c)) @ b.T


class GaussianLLR:
    """Score back-end of fixed canonical projections: ``a = (x - mean) @ proj`` per modality, LLR by ``rho``.

    Args:
        proj: per modality ``(D, k)``; mean: per modality ``(D,)``; rho: ``(k,)`` in [0, 1).
    """

    llr = True

    def __init__(self, proj: dict[str, np.ndarray], mean: dict[str, np.ndarray], rho: np.ndarray) -> None:
        self.proj = {m: np.asarray(p, dtype=np.float64) for m, p in proj.items()}
        self.mean = {m: np.asarray(v, dtype=np.float64) for m, v in mean.items()}
        self.rho = np.asarray(rho, dtype=np.float64)
        if not ((self.rho >= 0) & (self.rho < 1)).all():
            raise ValueError(f"canonical correlations must lie in [0, 1), got {self.rho}")

    def vectors(self, X: np.ndarray, modality: str) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean[modality]) @ self.proj[modality]

    def pair_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return gaussian_llr_pairs(self.rho, face_vec, voice_vec)

    def matrix_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return gaussian_llr_matrix(self.rho, face_vec, voice_vec)
