"""Slow, obvious reference for the push term of facevoice.losses.git (plain Python floats)."""

from __future__ import annotations


def git_push_reference(
    features: list[list[float]],
    labels: list[int],
    centers: list[list[float]],
    pairs: str = "i_ne_j",
    form: str = "paper",
) -> float:
    """Paper: mean over pairs i != j of 1/(1 + ||x_i - c_{y_j}||^2); reference_tf: element-wise, diagonal zeroed."""
    n = len(features)
    if form == "reference_tf":
        total, count = 0.0, 0
        for i in range(n):
            for j in range(n):
                for d in range(len(features[i])):
                    diff = 0.0 if i == j else features[i][d] - centers[labels[j]][d]
                    total += 1.0 / (1.0 + diff * diff)
                    count += 1
        return total / count
    vals = []
    for i in range(n):
        for j in range(n):
            if i == j or (pairs == "different_identity" and labels[i] == labels[j]):
                continue
            d2 = sum((a - b) ** 2 for a, b in zip(features[i], centers[labels[j]], strict=True))
            vals.append(1.0 / (1.0 + d2))
    return sum(vals) / len(vals) if vals else 0.0
