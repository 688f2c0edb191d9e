"""Per-encoder geometry: intrinsic dimension and compactness (``encoder``), curvature (``curvature``),
the shared nearest-neighbour search (``knn``)."""

from __future__ import annotations

from facevoice.analysis.geometry.curvature import Curvature, local_curvature
from facevoice.analysis.geometry.encoder import (
    Compactness,
    IntrinsicDimension,
    compactness_gap,
    encoder_geometry,
    levina_bickel,
    twonn,
)
from facevoice.analysis.geometry.knn import knn

__all__ = [
    "Compactness",
    "Curvature",
    "IntrinsicDimension",
    "compactness_gap",
    "encoder_geometry",
    "knn",
    "levina_bickel",
    "local_curvature",
    "twonn",
]
