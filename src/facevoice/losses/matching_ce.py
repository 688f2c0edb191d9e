"""Symmetric matching cross-entropy over a square score matrix of B face-voice pairs (facevoice's ``xplda``).

Row i of ``pair_scores (B, B)`` scores face i against every voice j, column j voice j against every
face; pair i (the diagonal) is the target in both directions. Off-diagonal entries of the same
identity (``labels``) are neither positives nor negatives: they are left out of the softmax, as
InfoNCE's ``same_identity="mask"`` does. Unlike InfoNCE the scores are given, so any pairwise score
(here a Gaussian log-likelihood ratio, whose row and column offsets do not cancel) can be trained.

    loss = 1/2 (mean_i CE(row i, target i) + mean_j CE(column j, target j))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facevoice.losses._checks import check_features_labels
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES


@LOSSES.register("matching_ce")
class MatchingCrossEntropyLoss(Loss):
    """``{"loss", "loss_f2v", "loss_v2f", "acc_v2f"}`` of ``pair_scores (B, B)`` and identity ``labels (B,)``."""

    inputs = ("pair_scores", "labels")

    def forward(self, pair_scores: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        n = pair_scores.shape[0]
        if pair_scores.ndim != 2 or pair_scores.shape[1] != n:
            raise ValueError(
                f"MatchingCrossEntropyLoss expects square pair scores (B, B), got {tuple(pair_scores.shape)}"
            )
        labels = check_features_labels("MatchingCrossEntropyLoss", pair_scores, labels)
        eye = torch.eye(n, dtype=torch.bool, device=pair_scores.device)
        same = labels[:, None] == labels[None, :]
        scores = pair_scores.masked_fill(same & ~eye, float("-inf"))
        target = torch.arange(n, device=pair_scores.device)
        loss_f2v = F.cross_entropy(scores, target)
        loss_v2f = F.cross_entropy(scores.T, target)
        with torch.no_grad():
            acc = (scores.T.argmax(dim=1) == target).to(pair_scores.dtype).mean()
        return {
            "loss": 0.5 * (loss_f2v + loss_v2f),
            "loss_f2v": loss_f2v.detach(),
            "loss_v2f": loss_v2f.detach(),
            "acc_v2f": acc,
        }
