"""Two-branch contrastive baseline ("Adapt the Face, Not the Voice", on frozen-encoder embeddings).

A projection per modality into a shared space, trained with the symmetric InfoNCE loss of
:mod:`facevoice.losses.infonce` (learnable temperature, initial 0.07, logit scale clamped at 100).
Paired batches may hold several pairs of one identity; ``same_identity="mask"`` removes those
off-diagonal entries from the softmax (see the loss).

The paper publishes no hyper-parameters for this part; facevoice's choices (all exposed): a 2-layer
MLP projection 512 → 256, dropout 0.1, AdamW lr 1e-3, weight decay 1e-4 on the projection weights
(none on the temperature), cosine decay to 1% of the lr over the run, batch 256.

The loss is a choice (``loss``, default ``"infonce"``; ``loss_args`` for its arguments): any
registered loss of row-aligned pairs (``a`` = the voice projections, ``b`` = the face projections,
optional identity ``labels``), e.g. ``loss: ssos_alignment``. ``temperature``,
``learnable_temperature``, ``max_scale`` and ``same_identity`` are InfoNCE's arguments. Logged terms
say ``v2f`` / ``f2v`` where the loss says ``a2b`` / ``b2a``.
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads import create_head
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import cosine_factor, require_paired, resolve_hparams
from facevoice.methods.loss_choice import build_chosen_loss, detached_terms
from facevoice.methods.registry import METHODS

CONTRASTIVE_DEFAULTS: dict[str, Any] = {
    "dim": 256,
    "hidden": 512,
    "dropout": 0.1,
    "loss": "infonce",
    "loss_args": {},
    "temperature": 0.07,
    "learnable_temperature": True,
    "max_scale": 100.0,
    "same_identity": "mask",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "final_lr_ratio": 0.01,
}


#: what the projections offer the loss (a = voices, b = faces), and the arguments of the names above
CONTRASTIVE_LOSS_INPUTS = ("a", "b", "labels")
CONTRASTIVE_LOSS_ARGS = {
    "infonce": {
        "temperature": "temperature",
        "learnable": "learnable_temperature",
        "max_scale": "max_scale",
        "same_identity": "same_identity",
    }
}


@METHODS.register("contrastive")
class ContrastiveMethod(Method):
    """Face and voice projections + symmetric InfoNCE with a learnable temperature."""

    sampling = "paired"
    default_batch_size = 256
    smoke_hparams = {"lr": 1e-2}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("contrastive", CONTRASTIVE_DEFAULTS, hparams)
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = create_head(
            "contrastive",
            d_face,
            d_voice,
            n_classes,
            dim=int(hp["dim"]),
            hidden=int(hp["hidden"]),
            dropout=float(hp["dropout"]),
        )
        sizes = {"n_classes": n_classes, "dim": int(hp["dim"])}
        self.loss = build_chosen_loss(
            "contrastive",
            hp,
            CONTRASTIVE_DEFAULTS,
            provides=CONTRASTIVE_LOSS_INPUTS,
            sizes=sizes,
            legacy=CONTRASTIVE_LOSS_ARGS,
        )

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", ...}`` for a paired batch; with InfoNCE ``loss_v2f``, ``loss_f2v``, ``logit_scale``,
        ``acc_v2f``, ``acc_f2v``."""
        face, voice, labels = require_paired("contrastive", batch)
        out = self.head(face, voice)
        terms = self.loss.compute({"a": out["voice"], "b": out["face"], "labels": labels})
        return {"loss": terms["loss"], **detached_terms(terms, rename={"a2b": "v2f", "b2a": "f2v"})}

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
