"""FOP as a method: paired batches, loss ``CE + alpha · OPL`` on the fused vectors, Adam.

Paper defaults (METHODS.md §2): gated fusion, 128-d, dropout 0.5, alpha = 1, OPL gamma 0.7,
Adam lr 1e-5, weight decay 0.01, batch 128 (50 epochs, set by the recipe). Test embeddings are the
branch outputs (tanh'ed under gated fusion). The official checkpoint's ``state_dict`` loads into
``method.head`` (see :mod:`facevoice.heads.fop`).
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads.fop import FUSIONS, FOPHead
from facevoice.losses.cross_entropy import CrossEntropyLoss
from facevoice.losses.opl import OPL_FORMS, OrthogonalProjectionLoss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, require_paired, resolve_hparams

FOP_DEFAULTS: dict[str, Any] = {
    "fusion": "gated",
    "dim": 128,
    "dropout": 0.5,
    "attention_dim": 128,
    "alpha": 1.0,
    "opl_gamma": 0.7,
    "opl_form": "paper",
    "lr": 1e-5,
    "weight_decay": 0.01,
}


class FOPMethod(Method):
    """Fusion and orthogonal projection (Saeed et al., ICASSP 2022)."""

    sampling = "paired"
    default_batch_size = 128

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("fop", FOP_DEFAULTS, hparams)
        check_choice("fop", "fusion", hp["fusion"], FUSIONS)
        check_choice("fop", "opl_form", hp["opl_form"], OPL_FORMS)
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = FOPHead(
            d_face, d_voice, n_classes, hp["fusion"], int(hp["dim"]), float(hp["dropout"]), int(hp["attention_dim"])
        )
        self.ce = CrossEntropyLoss()
        self.opl = OrthogonalProjectionLoss(float(hp["opl_gamma"]), hp["opl_form"])

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "ce", "opl", "opl_pos", "opl_neg", "acc"}`` for a paired batch."""
        face, voice, labels = require_paired("fop", batch)
        out = self.head(face, voice)
        ce = self.ce(out["logits"], labels)
        opl = self.opl(out["fused"], labels)
        loss = ce["loss"] + float(self.hparams["alpha"]) * opl["loss"]
        return {
            "loss": loss,
            "ce": ce["loss"].detach(),
            "opl": opl["loss"].detach(),
            "opl_pos": opl["pos_mean"],
            "opl_neg": opl["neg_mean"],
            "acc": ce["acc"],
        }

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Adam with the paper's lr and weight decay, constant LR."""
        opt = torch.optim.Adam(
            self.parameters(), lr=float(self.hparams["lr"]), weight_decay=float(self.hparams["weight_decay"])
        )
        return opt, None

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Branch embeddings ``(B, dim)`` (tanh'ed under gated fusion)."""
        return self.head.embed(x, modality)
