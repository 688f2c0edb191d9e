"""Slow, obvious reference for facevoice.losses.matching_ce (plain Python floats, one row at a time)."""

from __future__ import annotations

import math


def matching_ce_reference(scores: list[list[float]], labels: list[int]) -> dict[str, float]:
    """Symmetric cross-entropy, diagonal targets, other same-identity entries left out: loss, loss_f2v, loss_v2f."""
    n = len(scores)

    def direction(s: list[list[float]]) -> float:
        total = 0.0
        for i in range(n):
            kept = [s[i][j] for j in range(n) if j == i or labels[j] != labels[i]]
            total += -s[i][i] + math.log(sum(math.exp(v) for v in kept))
        return total / n

    f2v = direction(scores)
    v2f = direction([[scores[j][i] for j in range(n)] for i in range(n)])
    return {"loss": 0.5 * (f2v + v2f), "loss_f2v": f2v, "loss_v2f": v2f}
