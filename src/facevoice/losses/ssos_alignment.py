"""Explicit cross-modal alignment loss of "Seeking the Shape of Sound" (Wen et al., CVPR 2021).

With one sample per identity in the batch, for anchors ``p`` of one modality and candidates ``q``
of the other (row ``i`` of both = identity ``i``)::

    d_ij = <p_i, q_j / ||q_j||>            (anchor not normalised, candidate normalised)
    loss_i = log(offset + sum_{j != i} exp(d_ij - d_ii)),   offset = 5.4

and the loss averages the two directions (face anchors against voices, voice anchors against
faces) per row, then over rows (optionally weighted per row, for identity re-weighting). If
``labels`` are given, off-diagonal entries of the anchor's own identity are left out. A row with no
negatives (a batch of one) contributes the constant ``log(offset)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facevoice.losses._checks import check_features_labels, check_pair, check_weights
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES


@LOSSES.register("ssos_alignment")
class SSoSAlignmentLoss(Loss):
    """Symmetric SSoS alignment of row-aligned ``a (B, D)`` and ``b (B, D)``.

    Args:
        offset: the constant inside the log (5.4: 1 + 3.4 plus the ``exp(0)`` of the diagonal).
    """

    inputs = ("a", "b")
    optional = ("labels", "weights")

    def __init__(self, offset: float = 5.4) -> None:
        super().__init__()
        if offset <= 0:
            raise ValueError(f"offset must be > 0, got {offset}")
        self.offset = float(offset)

    def direction(self, p: torch.Tensor, q: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row loss ``(B,)`` with anchors ``p (B, D)`` and candidates ``q (B, D)``."""
        d = p @ F.normalize(q, dim=1).T
        logit = d - d.diagonal()[:, None]
        exclude = torch.eye(len(p), dtype=torch.bool, device=p.device)
        if labels is not None:
            exclude = exclude | (labels[:, None] == labels[None, :])
        logit = logit.masked_fill(exclude, float("-inf"))
        offset = torch.full((len(p), 1), self.offset, dtype=p.dtype, device=p.device).log()
        return torch.logsumexp(torch.cat([offset, logit], dim=1), dim=1)

    def per_sample(self, a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``(B,)``: the mean of the a→b and b→a row losses."""
        check_pair("SSoSAlignmentLoss", a, b)
        if labels is not None:
            labels = check_features_labels("SSoSAlignmentLoss", a, labels)
        return 0.5 * (self.direction(a, b, labels) + self.direction(b, a, labels))

    def forward(
        self,
        a: torch.Tensor,
        b: torch.Tensor,
        labels: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "loss_a2b", "loss_b2a"}`` (the two directions detached, unweighted)."""
        check_pair("SSoSAlignmentLoss", a, b)
        if labels is not None:
            labels = check_features_labels("SSoSAlignmentLoss", a, labels)
        a2b, b2a = self.direction(a, b, labels), self.direction(b, a, labels)
        rows = 0.5 * (a2b + b2a)
        w = check_weights("SSoSAlignmentLoss", weights, len(rows), rows)
        loss = rows.mean() if w is None else (w * rows).mean()
        return {"loss": loss, "loss_a2b": a2b.mean().detach(), "loss_b2a": b2a.mean().detach()}
