"""Two-branch contrastive baseline ("Adapt the Face, Not the Voice", on frozen-encoder embeddings).

A projection per modality into a shared space, trained with the symmetric InfoNCE loss of
:mod:`facevoice.losses.infonce` (learnable temperature, initial 0.07, logit scale clamped at 100).
Paired batches may hold several pairs of one identity; ``same_identity="mask"`` removes those
off-diagonal entries from the softmax (see the loss).

The paper publishes no hyper-parameters for this part; facevoice's choices (all exposed): a 2-layer
MLP projection 512 → 256, dropout 0.1, AdamW lr 1e-3, weight decay 1e-4 on the projection weights
(none on the temperature), cosine decay to 1% of the lr over the run, batch 256.
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads.contrastive import ContrastiveHead
from facevoice.losses.infonce import SAME_IDENTITY_MODES, InfoNCELoss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, cosine_factor, require_paired, resolve_hparams

CONTRASTIVE_DEFAULTS: dict[str, Any] = {
    "dim": 256,
    "hidden": 512,
    "dropout": 0.1,
    "temperature": 0.07,
    "learnable_temperature": True,
    "max_scale": 100.0,
    "same_identity": "mask",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "final_lr_ratio": 0.01,
}


class ContrastiveMethod(Method):
    """Face and voice projections + symmetric InfoNCE with a learnable temperature."""

    sampling = "paired"
    default_batch_size = 256

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("contrastive", CONTRASTIVE_DEFAULTS, hparams)
        check_choice("contrastive", "same_identity", hp["same_identity"], SAME_IDENTITY_MODES)
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = ContrastiveHead(d_face, d_voice, n_classes, int(hp["dim"]), int(hp["hidden"]), float(hp["dropout"]))
        self.loss = InfoNCELoss(
            temperature=float(hp["temperature"]),
            learnable=bool(hp["learnable_temperature"]),
            max_scale=float(hp["max_scale"]),
            same_identity=hp["same_identity"],
        )

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "loss_v2f", "loss_f2v", "logit_scale", "acc_v2f", "acc_f2v"}`` for a paired batch."""
        face, voice, labels = require_paired("contrastive", batch)
        out = self.head(face, voice)
        nce = self.loss(out["voice"], out["face"], labels)
        return {
            "loss": nce["loss"],
            "loss_v2f": nce["loss_a2b"].detach(),
            "loss_f2v": nce["loss_b2a"].detach(),
            "logit_scale": nce["logit_scale"],
            "acc_v2f": nce["acc_a2b"],
            "acc_f2v": nce["acc_b2a"],
        }

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW; weight decay on the projections' weight matrices only; cosine decay to ``final_lr_ratio``."""
        hp = self.hparams
        decay = [p for p in self.head.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.head.parameters() if p.ndim < 2] + list(self.loss.parameters())
        groups = [
            {"params": decay, "weight_decay": float(hp["weight_decay"])},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        opt = torch.optim.AdamW(groups, lr=float(hp["lr"]))
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, cosine_factor(n_steps, float(hp["final_lr_ratio"])))

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """L2-normalised projections ``(B, dim)``."""
        return self.head.embed(x, modality)
