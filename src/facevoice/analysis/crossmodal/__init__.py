"""Cross-modal geometry of an encoder pair (``metrics``: CKA, Gromov-Wasserstein, spectral gap, ID mismatch)
and the pair-level study quantities with the CCA-baseline EER (``pair``)."""

from __future__ import annotations

from facevoice.analysis.crossmodal.metrics import (
    aligned_centroids,
    gromov_wasserstein,
    id_mismatch,
    identity_centroids,
    linear_cka,
    rbf_cka,
    spectral_gap_divergence,
)
from facevoice.analysis.crossmodal.pair import cca_baseline_eer, pair_metrics

__all__ = [
    "aligned_centroids",
    "cca_baseline_eer",
    "gromov_wasserstein",
    "id_mismatch",
    "identity_centroids",
    "linear_cka",
    "pair_metrics",
    "rbf_cka",
    "spectral_gap_divergence",
]
