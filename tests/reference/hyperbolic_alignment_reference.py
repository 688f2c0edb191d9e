"""Slow, obvious reference for facevoice.losses.hyperbolic_alignment (plain Python floats).

Distances use the Möbius-addition form d_c(x, y) = 2/sqrt(c) * artanh(sqrt(c) ||(-x) ⊕_c y||),
an independent route from the closed form the library uses.
"""

from __future__ import annotations

import math


def _dot(x: list[float], y: list[float]) -> float:
    return sum(p * q for p, q in zip(x, y, strict=True))


def mobius_add(x: list[float], y: list[float], c: float) -> list[float]:
    """x ⊕_c y on the Poincaré ball of curvature -c."""
    xy, x2, y2 = _dot(x, y), _dot(x, x), _dot(y, y)
    den = 1 + 2 * c * xy + c * c * x2 * y2
    return [((1 + 2 * c * xy + c * y2) * a + (1 - c * x2) * b) / den for a, b in zip(x, y, strict=True)]


def poincare_distance(x: list[float], y: list[float], c: float) -> float:
    m = mobius_add([-v for v in x], y, c)
    return 2 / math.sqrt(c) * math.atanh(math.sqrt(c) * math.sqrt(_dot(m, m)))


def alignment_reference(
    a: list[list[float]], b: list[list[float]], c: float, temperature: float, similarity: str
) -> dict[str, float]:
    """Symmetric CE with diagonal positives, computed entry by entry."""

    def sim(x: list[float], y: list[float]) -> float:
        if similarity == "hyperbolic":
            return -poincare_distance(x, y, c)
        if similarity == "cosine":
            return _dot(x, y) / math.sqrt(_dot(x, x) * _dot(y, y))
        return _dot(x, y)

    n = len(a)
    s = [[sim(a[i], b[j]) / temperature for j in range(n)] for i in range(n)]

    def ce(rows: list[list[float]]) -> float:
        return sum(-rows[i][i] + math.log(sum(math.exp(v) for v in rows[i])) for i in range(n)) / n

    a2b = ce(s)
    b2a = ce([[s[j][i] for j in range(n)] for i in range(n)])
    return {"loss": 0.5 * (a2b + b2a), "loss_a2b": a2b, "loss_b2a": b2a}
