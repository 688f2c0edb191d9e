"""Slow, obvious per-sample reference for facevoice.losses.cross_entropy (plain Python floats)."""

from __future__ import annotations

import math


def cross_entropy_reference(logits: list[list[float]], labels: list[int], weights=None) -> float:
    """mean_i w_i * (log sum_k exp(z_ik) - z_{i, y_i})."""
    w = weights if weights is not None else [1.0] * len(logits)
    total = 0.0
    for z, y, wi in zip(logits, labels, w, strict=True):
        total += wi * (math.log(sum(math.exp(v) for v in z)) - z[y])
    return total / len(logits)
