"""Slow, obvious per-pair reference for facevoice.losses.infonce (plain Python floats)."""

from __future__ import annotations

import math


def _cos(x: list[float], y: list[float]) -> float:
    nx = math.sqrt(sum(v * v for v in x))
    ny = math.sqrt(sum(v * v for v in y))
    return sum(p * q for p, q in zip(x, y, strict=True)) / (nx * ny)


def infonce_reference(
    a: list[list[float]], b: list[list[float]], temperature: float, labels: list | None = None, mode: str = "mask"
) -> dict[str, float]:
    """Symmetric InfoNCE computed pair by pair: returns loss, loss_a2b, loss_b2a."""
    n = len(a)
    sim = [[_cos(a[i], b[j]) / temperature for j in range(n)] for i in range(n)]

    def direction(s: list[list[float]]) -> float:
        total = 0.0
        for i in range(n):
            denom = 0.0
            num = 0.0
            for j in range(n):
                same = labels is not None and mode != "ignore" and labels[i] == labels[j]
                if j != i and same and mode == "mask":
                    continue  # neither positive nor negative
                denom += math.exp(s[i][j])
                if j == i or (same and mode == "positive"):
                    num += math.exp(s[i][j])
            total += -math.log(num / denom)
        return total / n

    a2b = direction(sim)
    b2a = direction([[sim[j][i] for j in range(n)] for i in range(n)])
    return {"loss": 0.5 * (a2b + b2a), "loss_a2b": a2b, "loss_b2a": b2a}
