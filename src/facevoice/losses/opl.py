"""Orthogonal projection loss (OPL, FOP / SBNet / PAEFF).

On the L2-normalised features of a batch::

    OPL = (1 - mean cos over same-identity pairs i != j) + gamma * mean |cos| over different-identity pairs

with ``gamma = 0.7``. Means run over ordered pairs. Empty pair sets are defined as a mean of 0, so a
batch whose labels are all distinct gives a positive term of exactly 1 (a constant, no gradient)
and a batch of one identity gives a negative term of 0: never NaN.

``form="reference"`` reproduces the reference code, which divides each sum by ``count + 1e-6``
instead of ``count`` (a relative difference of about 1e-6/count).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facevoice.losses._checks import check_features_labels
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES

OPL_FORMS = ("paper", "reference")


@LOSSES.register("opl")
class OrthogonalProjectionLoss(Loss):
    """OPL over a batch of features ``(B, D)`` with identity labels ``(B,)``.

    Args:
        gamma: weight of the different-identity term (0.7 in FOP).
        form: ``"paper"`` (exact means) or ``"reference"`` (sums divided by ``count + 1e-6``).
    """

    inputs = ("features", "labels")

    def __init__(self, gamma: float = 0.7, form: str = "paper") -> None:
        super().__init__()
        if form not in OPL_FORMS:
            raise ValueError(f"OPL form must be one of {OPL_FORMS}, got {form!r}")
        if gamma < 0:
            raise ValueError(f"OPL gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.form = form

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "pos_mean", "neg_mean"}`` (the last two detached, for logging)."""
        labels = check_features_labels("OPL", features, labels)
        x = F.normalize(features, p=2, dim=1)
        cos = x @ x.T
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=features.device)
        pos = (same & ~eye).to(cos.dtype)
        neg = (~same).to(cos.dtype)
        if self.form == "reference":
            pos_den, neg_den = pos.sum() + 1e-6, neg.sum() + 1e-6
        else:
            pos_den, neg_den = pos.sum().clamp(min=1.0), neg.sum().clamp(min=1.0)
        pos_mean = (pos * cos).sum() / pos_den
        neg_mean = (neg * cos).abs().sum() / neg_den
        loss = (1.0 - pos_mean) + self.gamma * neg_mean
        return {"loss": loss, "pos_mean": pos_mean.detach(), "neg_mean": neg_mean.detach()}
