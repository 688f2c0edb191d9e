"""Slow, obvious per-pair reference for facevoice.losses.opl (plain Python floats)."""

from __future__ import annotations

import math


def _cos(x: list[float], y: list[float]) -> float:
    nx = math.sqrt(sum(v * v for v in x))
    ny = math.sqrt(sum(v * v for v in y))
    return sum(p * q for p, q in zip(x, y, strict=True)) / (nx * ny)


def opl_reference(features: list[list[float]], labels: list[int], gamma: float = 0.7) -> dict[str, float]:
    """OPL pair by pair; an empty pair set has mean 0."""
    pos, neg = [], []
    n = len(features)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            c = _cos(features[i], features[j])
            if labels[i] == labels[j]:
                pos.append(c)
            else:
                neg.append(abs(c))
    pos_mean = sum(pos) / len(pos) if pos else 0.0
    neg_mean = sum(neg) / len(neg) if neg else 0.0
    return {"loss": (1.0 - pos_mean) + gamma * neg_mean, "pos_mean": pos_mean, "neg_mean": neg_mean}
