"""Slow, obvious per-row reference for facevoice.losses.ssos_alignment (plain Python floats)."""

from __future__ import annotations

import math


def _unit(x: list[float]) -> list[float]:
    n = math.sqrt(sum(v * v for v in x))
    return [v / n for v in x]


def ssos_direction_reference(p: list[list[float]], q: list[list[float]], offset: float, labels=None) -> list[float]:
    """loss_i = log(offset + sum_{j != i, y_j != y_i} exp(<p_i, q_j/|q_j|> - <p_i, q_i/|q_i|>))."""
    out = []
    for i in range(len(p)):
        d = [sum(a * b for a, b in zip(p[i], _unit(q[j]), strict=True)) for j in range(len(q))]
        total = offset
        for j in range(len(q)):
            if j == i or (labels is not None and labels[j] == labels[i]):
                continue
            total += math.exp(d[j] - d[i])
        out.append(math.log(total))
    return out


def ssos_alignment_reference(a, b, offset: float = 5.4, labels=None, weights=None) -> float:
    """Mean over rows of w_i * (loss_i(a→b) + loss_i(b→a)) / 2."""
    ab = ssos_direction_reference(a, b, offset, labels)
    ba = ssos_direction_reference(b, a, offset, labels)
    w = weights if weights is not None else [1.0] * len(a)
    return sum(wi * 0.5 * (x + y) for wi, x, y in zip(w, ab, ba, strict=True)) / len(a)
