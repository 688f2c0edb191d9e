"""SSoS as a method: shared classifier, explicit alignment, two-stage identity re-weighting.

Loss per batch of distinct identities: ``CE_face + CE_voice + w_align · L_align`` (every term
weighted per sample by ``w_y · C / Σw`` once re-weighting has started).

Identity re-weighting (METHODS.md §2): a per-identity loss EMA ``m ← 0.9 m + 0.1 (CE_f + CE_v)``
starting at 14.0 is updated after every step. In stage 1, from iteration 500 and every 100
iterations, the first update gives weight 1 to the 50% lowest-``m`` identities and 0 to the rest;
later updates multiply the weights by 0.99 and give weight 1 to the next 2.4% lowest-``m``
unweighted identities, until at least 90% are weighted. Stage 1 lasts 2,400 iterations; stage 2
(10,000 iterations) retrains the heads from scratch (``stage2_reinit``) with the weights fixed.
SGD (momentum 0.9, weight decay 1e-4, lr 0.01) with step decay ×0.1 at iterations 1,000 / 2,000 of
stage 1 and 2,000 / 3,000 of stage 2 (the reference configs). With ``fit_schedule_to_run`` every
iteration count is scaled by ``n_steps / 12,400`` so the two stages fill the trainer's run.
``reweight=False`` trains one stage with uniform weights.

``ce_weighting="batch_mean"`` reproduces the reference code, which multiplies the batch-mean CE by
each weight (so CE is scaled by the batch's mean weight) instead of weighting each sample.
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads import create_head
from facevoice.losses import create_loss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, require_paired, resolve_hparams
from facevoice.methods.registry import METHODS
from facevoice.methods.reweighting import IdentityReweighting, StageSchedule

SSOS_DEFAULTS: dict[str, Any] = {
    "dim": 128,
    "dropout": 0.5,
    "offset": 5.4,
    "w_align": 1.0,
    "reweight": True,
    "ema": 0.9,
    "loss_init": 14.0,
    "reweight_start": 500,
    "reweight_every": 100,
    "first_ratio": 0.5,
    "add_ratio": 0.024,
    "reweight_decay": 0.99,
    "max_ratio": 0.9,
    "stage1_iters": 2400,
    "stage2_iters": 10000,
    "stage2_reinit": True,
    "fit_schedule_to_run": True,
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "lr_decay": 0.1,
    "stage1_milestones": (1000, 2000),
    "stage2_milestones": (2000, 3000),
    "ce_weighting": "per_sample",
}


@METHODS.register("ssos")
class SSoSMethod(Method):
    """Seeking the Shape of Sound (Wen et al., CVPR 2021) on cached embeddings."""

    sampling = "one_per_identity"
    default_batch_size = 64
    # a short run still passes through both stages: re-weighting from step 4, stage 2 from step 10
    smoke_hparams = {
        "lr": 0.05,
        "reweight_start": 4,
        "reweight_every": 2,
        "stage1_iters": 10,
        "fit_schedule_to_run": False,
    }

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("ssos", SSOS_DEFAULTS, hparams)
        check_choice("ssos", "ce_weighting", hp["ce_weighting"], ("per_sample", "batch_mean"))
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = create_head("ssos", d_face, d_voice, n_classes, dim=int(hp["dim"]), dropout=float(hp["dropout"]))
        self.ce = create_loss("cross_entropy")
        self.align = create_loss("ssos_alignment", offset=float(hp["offset"]))
        self.reweighting = IdentityReweighting(
            n_classes,
            hp["ema"],
            hp["loss_init"],
            hp["first_ratio"],
            hp["add_ratio"],
            hp["reweight_decay"],
            hp["max_ratio"],
        )
        self.schedule = StageSchedule.from_hparams(hp, n_steps=None)
        self._optimizer: torch.optim.Optimizer | None = None
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def sample_weights(self, labels: torch.Tensor) -> torch.Tensor | None:
        """``w_y · C / Σw`` for the batch's identities ``(B,)``, or None before the first update."""
        if not self.hparams["reweight"]:
            return None
        return self.reweighting.sample_weights(labels)

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "ce_face", "ce_voice", "align", "acc_face", "acc_voice", "weighted_ratio"}``."""
        face, voice, labels = require_paired("ssos", batch)
        out = self.head(face, voice)
        ce_f = self.ce.per_sample(out["face_logits"], labels)
        ce_v = self.ce.per_sample(out["voice_logits"], labels)
        self._last = (labels.detach(), (ce_f + ce_v).detach())
        w = batch.weights if batch.weights is not None else self.sample_weights(labels)
        if w is None:
            l_f, l_v = ce_f.mean(), ce_v.mean()
        elif self.hparams["ce_weighting"] == "per_sample":
            l_f, l_v = (w * ce_f).mean(), (w * ce_v).mean()
        else:
            l_f, l_v = ce_f.mean() * w.mean(), ce_v.mean() * w.mean()
        align = self.align(a=out["voice"], b=out["face"], labels=labels, weights=w)
        loss = l_f + l_v + float(self.hparams["w_align"]) * align["loss"]
        with torch.no_grad():
            acc_f = (out["face_logits"].argmax(1) == labels).float().mean()
            acc_v = (out["voice_logits"].argmax(1) == labels).float().mean()
        return {
            "loss": loss,
            "ce_face": l_f.detach(),
            "ce_voice": l_v.detach(),
            "align": align["loss"].detach(),
            "acc_face": acc_f,
            "acc_voice": acc_v,
            "weighted_ratio": self.reweighting.ratio.detach().clone(),
        }

    def on_step_end(self, batch: Batch, out: dict[str, torch.Tensor], step: int) -> None:
        """Loss EMA after every step; weight updates and the stage switch on the stage-1 schedule."""
        if self._last is not None:
            self.reweighting.update_ema(*self._last)
            self._last = None
        if not self.hparams["reweight"] or int(self.reweighting.stage) != 1:
            return
        it = step + 1
        if it >= self.schedule.stage1_iters:
            self._enter_stage2()
        elif it >= self.schedule.reweight_start and it % self.schedule.reweight_every == 0:
            self.reweighting.update_weights()

    def _enter_stage2(self) -> None:
        self.reweighting.stage.fill_(2)
        if self.hparams["stage2_reinit"]:
            self.head.reset_parameters()
            if self._optimizer is not None:
                self._optimizer.state.clear()

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """SGD (momentum 0.9, wd 1e-4, lr 0.01) with the two stages' step decays (scaled to the run if asked)."""
        hp = self.hparams
        self.schedule = StageSchedule.from_hparams(hp, n_steps=n_steps if hp["fit_schedule_to_run"] else None)
        opt = torch.optim.SGD(
            self.parameters(),
            lr=float(hp["lr"]),
            momentum=float(hp["momentum"]),
            weight_decay=float(hp["weight_decay"]),
        )
        self._optimizer = opt
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, self.schedule.lr_factor)

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Head outputs ``(B, dim)`` (cosine scoring)."""
        return self.head.embed(x, modality)
