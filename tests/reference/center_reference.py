"""Slow, obvious references for facevoice.losses.center (plain Python floats)."""

from __future__ import annotations


def center_reference(
    features: list[list[float]], labels: list[int], centers: list[list[float]], form: str = "paper"
) -> float:
    """Paper: 1/2 mean_i ||x_i - c_{y_i}||^2; reference_tf: mean of squared elements."""
    total, count = 0.0, 0
    for x, y in zip(features, labels, strict=True):
        for a, b in zip(x, centers[y], strict=True):
            total += (a - b) ** 2
            count += 1
    return total / count if form == "reference_tf" else 0.5 * total / len(features)


def center_update_reference(
    features: list[list[float]], labels: list[int], centers: list[list[float]], alpha: float
) -> list[list[float]]:
    """Wen et al.: c_j <- c_j - alpha * sum_{i: y_i = j}(c_j - x_i) / (1 + n_j), one class at a time."""
    new = [list(c) for c in centers]
    for j in set(labels):
        rows = [x for x, y in zip(features, labels, strict=True) if y == j]
        for d in range(len(centers[j])):
            delta = sum(centers[j][d] - x[d] for x in rows) / (1 + len(rows))
            new[j][d] = centers[j][d] - alpha * delta
    return new
