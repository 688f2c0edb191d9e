"""SSoS identity re-weighting state and its two-stage iteration schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


class IdentityReweighting(nn.Module):
    """Per-identity loss EMA and weights, kept as buffers so they are checkpointed with the method.

    Buffers: ``loss_mean (C,)`` (EMA, starts at ``loss_init``), ``weight (C,)`` (starts at 1),
    ``ratio`` (share of identities with weight > 0; -1 before the first update), ``stage`` (1 or 2).
    """

    def __init__(
        self,
        n_classes: int,
        ema: float = 0.9,
        loss_init: float = 14.0,
        first_ratio: float = 0.5,
        add_ratio: float = 0.024,
        decay: float = 0.99,
        max_ratio: float = 0.9,
    ) -> None:
        super().__init__()
        self.n_classes = int(n_classes)
        self.ema, self.first_ratio, self.add_ratio = float(ema), float(first_ratio), float(add_ratio)
        self.decay, self.max_ratio = float(decay), float(max_ratio)
        self.register_buffer("loss_mean", torch.full((n_classes,), float(loss_init)))
        self.register_buffer("weight", torch.ones(n_classes))
        self.register_buffer("ratio", torch.tensor(-1.0))
        self.register_buffer("stage", torch.tensor(1, dtype=torch.long))

    @torch.no_grad()
    def update_ema(self, labels: torch.Tensor, losses: torch.Tensor) -> None:
        """``m_y ← ema · m_y + (1 − ema) · loss`` for ``labels (B,)`` and ``losses (B,)`` (repeats averaged)."""
        labels = labels.to(self.loss_mean.device).long()
        sums = torch.zeros_like(self.loss_mean).index_add_(0, labels, losses.to(self.loss_mean))
        counts = torch.bincount(labels, minlength=self.n_classes)
        seen = counts > 0
        batch_mean = sums[seen] / counts[seen].to(sums.dtype)
        self.loss_mean[seen] = self.ema * self.loss_mean[seen] + (1.0 - self.ema) * batch_mean

    @torch.no_grad()
    def update_weights(self) -> None:
        """One re-weighting update (no-op once ``ratio >= max_ratio``)."""
        first = float(self.ratio) < 0
        if not first and int((self.weight > 0).sum()) >= self.max_ratio * self.n_classes - 1e-9:
            return  # counted exactly: a float32 ratio of 90/100 reads 0.8999... and would not stop
        if first:
            self.weight.zero_()
        share = self.first_ratio if first else self.add_ratio
        n = max(1, int(share * self.n_classes))  # at least one identity, so tiny class counts still progress
        free = torch.nonzero(self.weight == 0).squeeze(1)
        order = torch.argsort(self.loss_mean[free], stable=True)
        chosen = free[order[:n]]
        self.weight.mul_(self.decay)
        self.weight[chosen] = 1.0
        self.ratio.fill_(float((self.weight > 0).float().mean()))

    def sample_weights(self, labels: torch.Tensor) -> torch.Tensor | None:
        """``w_y · C / Σw`` ``(B,)``; None before the first update; ones if the batch's weights are all ~0."""
        if float(self.ratio) < 0:
            return None
        scaled = self.weight * self.n_classes / self.weight.sum()
        w = scaled[labels.to(scaled.device).long()]
        return w + 1.0 if float(w.sum()) < 1e-3 else w


@dataclass(frozen=True)
class StageSchedule:
    """Iteration counts of the two SSoS stages and the step-decay LR factor over the run."""

    stage1_iters: int
    stage2_iters: int
    reweight_start: int
    reweight_every: int
    stage1_milestones: tuple[int, ...]
    stage2_milestones: tuple[int, ...]
    lr_decay: float
    two_stages: bool

    @classmethod
    def from_hparams(cls, hp: dict[str, Any], n_steps: int | None) -> StageSchedule:
        """The paper's counts, scaled by ``n_steps / (stage1 + stage2)`` when ``n_steps`` is given."""
        two = bool(hp["reweight"])
        total = (int(hp["stage1_iters"]) if two else 0) + int(hp["stage2_iters"])
        scale = 1.0 if n_steps is None else n_steps / total

        def s(x: float) -> int:
            return max(1, round(float(x) * scale))

        return cls(
            stage1_iters=s(hp["stage1_iters"]) if two else 0,
            stage2_iters=s(hp["stage2_iters"]),
            reweight_start=s(hp["reweight_start"]),
            reweight_every=s(hp["reweight_every"]),
            stage1_milestones=tuple(s(m) for m in hp["stage1_milestones"]),
            stage2_milestones=tuple(s(m) for m in hp["stage2_milestones"]),
            lr_decay=float(hp["lr_decay"]),
            two_stages=two,
        )

    def lr_factor(self, step: int) -> float:
        """LR multiplier at global step ``step``: ``lr_decay ** (#milestones passed in the current stage)``."""
        if self.two_stages and step < self.stage1_iters:
            local, milestones = step, self.stage1_milestones
        else:
            local, milestones = step - self.stage1_iters, self.stage2_milestones
        return self.lr_decay ** sum(local > m for m in milestones)
