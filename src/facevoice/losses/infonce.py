"""Symmetric InfoNCE (the CLIP loss) with a learnable temperature.

Row ``i`` of ``a`` and row ``i`` of ``b`` are a positive pair (e.g. the voice and the face of one
person); every other row of the other modality is a negative. The similarity is the cosine
(inputs are L2-normalised unless ``normalize=False``) times a logit scale ``1 / T``; the scale is
learned in log space, initialised at ``1 / temperature`` and clamped to ``max_scale`` as in CLIP.

Identity labels (optional) handle batches that hold several pairs of one person, whose off-diagonal
same-identity entries would otherwise be pushed apart as negatives. ``same_identity`` chooses:

``"mask"`` (default)
    off-diagonal same-identity entries are removed from the softmax denominator: neither positive
    nor negative. With one pair per identity in the batch this equals the plain loss.
``"positive"``
    they count as extra positives: ``loss_i = -log(sum_{j: y_j = y_i} p_ij)`` (multi-positive NCE).
``"ignore"``
    labels are ignored (plain InfoNCE, what CLIP does).

The loss is the mean of the a→b (rows) and b→a (columns) cross-entropies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES

SAME_IDENTITY_MODES = ("mask", "positive", "ignore")


@LOSSES.register("infonce")
class InfoNCELoss(Loss):
    """Symmetric InfoNCE over a batch of paired embeddings with a learnable temperature.

    Args:
        temperature: initial temperature ``T`` (logit scale ``1 / T``).
        learnable: learn ``log(1 / T)``; otherwise it is a fixed buffer.
        max_scale: upper clamp of the logit scale (CLIP: 100).
        normalize: L2-normalise ``a`` and ``b`` before the dot products.
        same_identity: how off-diagonal same-identity pairs are treated when labels are given.
    """

    inputs = ("a", "b")
    optional = ("labels",)

    def __init__(
        self,
        temperature: float = 0.07,
        learnable: bool = True,
        max_scale: float = 100.0,
        normalize: bool = True,
        same_identity: str = "mask",
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if max_scale <= 0:
            raise ValueError(f"max_scale must be > 0, got {max_scale}")
        if same_identity not in SAME_IDENTITY_MODES:
            raise ValueError(f"same_identity must be one of {SAME_IDENTITY_MODES}, got {same_identity!r}")
        init = torch.tensor(math.log(1.0 / temperature), dtype=torch.float32)
        if learnable:
            self.log_scale = nn.Parameter(init)
        else:
            self.register_buffer("log_scale", init)
        self.max_log_scale = math.log(max_scale)
        self.normalize = normalize
        self.same_identity = same_identity

    @property
    def temperature(self) -> float:
        """Current temperature ``1 / scale`` (after clamping)."""
        return float(torch.exp(-self.log_scale.detach().clamp(max=self.max_log_scale)))

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Scaled similarity matrix ``(B, B)`` between ``a (B, D)`` and ``b (B, D)``."""
        if self.normalize:
            a = F.normalize(a, dim=-1)
            b = F.normalize(b, dim=-1)
        scale = self.log_scale.clamp(max=self.max_log_scale).exp()
        return scale.to(a.dtype) * a @ b.T

    def forward(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss for paired rows of ``a (B, D)`` and ``b (B, D)``; ``labels (B,)`` optional identity ids.

        Returns ``{"loss", "loss_a2b", "loss_b2a", "logit_scale", "acc_a2b", "acc_b2a"}`` (the last
        three detached); accuracy is the share of rows whose positive has the top logit.
        """
        if a.ndim != 2 or b.ndim != 2 or a.shape != b.shape:
            raise ValueError(
                f"InfoNCE expects a and b of the same shape (B, D); got {tuple(a.shape)}, {tuple(b.shape)}"
            )
        if a.shape[0] == 0:
            raise ValueError("InfoNCE got an empty batch")
        n = a.shape[0]
        logits = self.logits(a, b)
        eye = torch.eye(n, dtype=torch.bool, device=a.device)
        positives = eye
        if labels is not None and self.same_identity != "ignore":
            labels = torch.as_tensor(labels, device=a.device)
            if labels.shape != (n,):
                raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
            same = labels[:, None] == labels[None, :]
            if self.same_identity == "mask":
                logits = logits.masked_fill(same & ~eye, float("-inf"))
            else:
                positives = same
        loss_a2b = _multi_positive_ce(logits, positives)
        loss_b2a = _multi_positive_ce(logits.T, positives.T)
        with torch.no_grad():
            acc_a2b = positives[torch.arange(n), logits.argmax(dim=1)].float().mean()
            acc_b2a = positives.T[torch.arange(n), logits.T.argmax(dim=1)].float().mean()
        return {
            "loss": 0.5 * (loss_a2b + loss_b2a),
            "loss_a2b": loss_a2b,
            "loss_b2a": loss_b2a,
            "logit_scale": self.log_scale.detach().clamp(max=self.max_log_scale).exp(),
            "acc_a2b": acc_a2b,
            "acc_b2a": acc_b2a,
        }


def _multi_positive_ce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-log(sum_pos softmax)``; ``logits (B, B)``, ``positives (B, B)`` bool."""
    all_lse = torch.logsumexp(logits, dim=1)
    pos_lse = torch.logsumexp(logits.masked_fill(~positives, float("-inf")), dim=1)
    return (all_lse - pos_lse).mean()
