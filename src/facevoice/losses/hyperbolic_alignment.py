"""PAEFF's alignment loss L_A: symmetric cross-entropy over the batch similarity matrix.

Row ``i`` of ``a`` (faces) and row ``i`` of ``b`` (voices) are the positive pair; every other row
is a negative. ``logits = sim(a, b) / temperature`` (0.07) and
``L_A = (CE(logits, diag) + CE(logits^T, diag)) / 2``.

``similarity``:

``"hyperbolic"`` (paper, default)
    ``sim = -d_c(a_i, b_j)``, the geodesic distance on the Poincaré ball of curvature ``-c``;
    ``a`` and ``b`` must be points of that ball.
``"euclidean_dot"`` (PAEFF reference code, METHODS.md §5)
    ``sim = <a_i, b_j>``, Euclidean dot products of the ball points (or of any vectors).
``"cosine"``
    ``sim = cos(a_i, b_j)``; the "+EGFF + Euclidean alignment" ablation on Euclidean features.

The pairwise distance matrix uses the closed form
``d_c(x, y) = arcosh(1 + 2c||x - y||^2 / ((1 - c||x||^2)(1 - c||y||^2))) / sqrt(c)``, which equals
geoopt's ``PoincareBall(c).dist`` (tested against it). We deliberately do not call geoopt here:
its pairwise use needs a ``(B, B, D)`` broadcast of Möbius additions, ~1 GB of autograd state for
PAEFF's batch of 1,024 × 256-d, against a ``(B, B)`` matrix product.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from facevoice.losses._checks import check_pair
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES

SIMILARITIES = ("hyperbolic", "euclidean_dot", "cosine")


def pairwise_poincare_distance(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """Geodesic distances ``(N, M)`` between ball points ``x (N, D)`` and ``y (M, D)``, curvature ``-c``."""
    x2 = x.pow(2).sum(1)
    y2 = y.pow(2).sum(1)
    limit = 1.0 / c
    if bool((x2 >= limit).any()) or bool((y2 >= limit).any()):
        raise ValueError(f"points lie outside the Poincaré ball of radius 1/sqrt(c) = {math.sqrt(limit):.4f}")
    diff2 = (x2[:, None] + y2[None, :] - 2.0 * x @ y.T).clamp(min=0.0)
    t = 2.0 * c * diff2 / ((1.0 - c * x2)[:, None] * (1.0 - c * y2)[None, :])
    # arcosh(1 + t) = log1p(t + sqrt(t (t + 2))); t is clamped away from 0, where the slope is infinite.
    t = t.clamp(min=torch.finfo(t.dtype).eps)
    return torch.log1p(t + torch.sqrt(t * (t + 2.0))) / math.sqrt(c)


@LOSSES.register("hyperbolic_alignment")
class HyperbolicAlignmentLoss(Loss):
    """Symmetric InfoNCE-style alignment of row-aligned ``a (B, D)`` and ``b (B, D)``.

    Args:
        c: ball curvature magnitude (0.05 in PAEFF); used by ``similarity="hyperbolic"``.
        temperature: fixed softmax temperature (0.07).
        similarity: ``"hyperbolic"``, ``"euclidean_dot"`` or ``"cosine"`` (see module docstring).
    """

    inputs = ("a", "b")

    def __init__(self, c: float = 0.05, temperature: float = 0.07, similarity: str = "hyperbolic") -> None:
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if c <= 0 or temperature <= 0:
            raise ValueError(f"c and temperature must be > 0, got c={c}, temperature={temperature}")
        self.c, self.temperature, self.similarity = float(c), float(temperature), similarity

    def similarity_matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(B, B)`` similarities between the rows of ``a`` and of ``b``."""
        if self.similarity == "hyperbolic":
            return -pairwise_poincare_distance(a, b, self.c)
        if self.similarity == "cosine":
            return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
        return a @ b.T

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "loss_a2b", "loss_b2a", "acc"}`` (accuracy detached)."""
        check_pair("HyperbolicAlignmentLoss", a, b)
        logits = self.similarity_matrix(a, b) / self.temperature
        target = torch.arange(a.shape[0], device=a.device)
        loss_a2b = F.cross_entropy(logits, target)
        loss_b2a = F.cross_entropy(logits.T, target)
        acc = (logits.detach().argmax(dim=1) == target).float().mean()
        return {"loss": 0.5 * (loss_a2b + loss_b2a), "loss_a2b": loss_a2b, "loss_b2a": loss_b2a, "acc": acc}
