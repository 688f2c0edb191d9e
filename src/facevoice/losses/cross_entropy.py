"""Softmax cross-entropy with optional per-sample weights (identity re-weighting in SSoS)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facevoice.losses._checks import check_features_labels, check_weights
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES


@LOSSES.register("cross_entropy")
class CrossEntropyLoss(Loss):
    """Mean cross-entropy of ``logits (B, C)`` against ``labels (B,)``.

    With ``weights (B,)`` the loss is ``mean_i(w_i * ce_i)`` (weights are not renormalised: SSoS
    passes ``w_y * C / sum(w)``, already scaled so that the mean weight over identities is 1).

    Args:
        label_smoothing: as in :func:`torch.nn.functional.cross_entropy` (0 in every paper here).
    """

    inputs = ("logits", "labels")
    optional = ("weights",)

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def per_sample(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Unreduced cross-entropy ``(B,)``."""
        labels = check_features_labels("CrossEntropyLoss", logits, labels)
        if labels.numel() and (labels.min() < 0 or labels.max() >= logits.shape[1]):
            raise ValueError(f"CrossEntropyLoss labels must lie in [0, {logits.shape[1]}), got {labels.tolist()}")
        return F.cross_entropy(logits, labels, reduction="none", label_smoothing=self.label_smoothing)

    def forward(
        self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "acc"}`` (accuracy detached)."""
        ce = self.per_sample(logits, labels)
        w = check_weights("CrossEntropyLoss", weights, len(ce), ce)
        loss = ce.mean() if w is None else (w * ce).mean()
        acc = (logits.detach().argmax(dim=1) == torch.as_tensor(labels, device=logits.device)).float().mean()
        return {"loss": loss, "acc": acc}
