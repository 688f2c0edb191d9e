"""FOP as a method: paired batches, loss ``CE + alpha · OPL`` on the fused vectors, Adam.

Paper defaults (METHODS.md §2): gated fusion, 128-d, dropout 0.5, alpha = 1, OPL gamma 0.7,
Adam lr 1e-5, weight decay 0.01, batch 128 (50 epochs, set by the recipe). Test embeddings are the
branch outputs (tanh'ed under gated fusion). The official checkpoint's ``state_dict`` loads into
``method.head`` (see :mod:`facevoice.heads.fop`).

The auxiliary loss is a choice (``loss``, default ``"opl"``, the paper's; ``loss_args`` for its
arguments): any registered loss fed by the fused vectors (``features``), the labels and the logits,
e.g. ``loss: center``. ``opl_gamma`` / ``opl_form`` are OPL's ``gamma`` / ``form``.
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads import create_head
from facevoice.losses import create_loss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import require_paired, resolve_hparams
from facevoice.methods.loss_choice import build_chosen_loss, detached_terms
from facevoice.methods.registry import METHODS

FOP_DEFAULTS: dict[str, Any] = {
    "fusion": "gated",
    "dim": 128,
    "dropout": 0.5,
    "attention_dim": 128,
    "alpha": 1.0,
    "loss": "opl",
    "loss_args": {},
    "opl_gamma": 0.7,
    "opl_form": "paper",
    "lr": 1e-5,
    "weight_decay": 0.01,
}
#: what the fused vectors offer the auxiliary loss, and the arguments the older hyper-parameters stand for
FOP_LOSS_INPUTS = ("features", "labels", "logits")
FOP_LOSS_ARGS = {"opl": {"gamma": "opl_gamma", "form": "opl_form"}}


@METHODS.register("fop")
class FOPMethod(Method):
    """Fusion and orthogonal projection (Saeed et al., ICASSP 2022)."""

    sampling = "paired"
    default_batch_size = 128
    smoke_hparams = {"lr": 1e-2}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("fop", FOP_DEFAULTS, hparams)
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = create_head(
            "fop",
            d_face,
            d_voice,
            n_classes,
            fusion=hp["fusion"],
            dim=int(hp["dim"]),
            dropout=float(hp["dropout"]),
            attention_dim=int(hp["attention_dim"]),
        )
        self.ce = create_loss("cross_entropy")
        sizes = {"n_classes": n_classes, "dim": int(hp["dim"])}
        self.aux = build_chosen_loss(
            "fop", hp, FOP_DEFAULTS, provides=FOP_LOSS_INPUTS, sizes=sizes, legacy=FOP_LOSS_ARGS
        )

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "ce", "acc", <aux>, <aux>_<term>...}`` for a paired batch (``opl``, ``opl_pos_mean``, ...)."""
        face, voice, labels = require_paired("fop", batch)
        out = self.head(face, voice)
        ce = self.ce(out["logits"], labels)
        aux = self.aux.compute({"features": out["fused"], "labels": labels, "logits": out["logits"]})
        loss = ce["loss"] + float(self.hparams["alpha"]) * aux["loss"]
        return {"loss": loss, "ce": ce["loss"].detach(), "acc": ce["acc"], **detached_terms(aux, self.hparams["loss"])}

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Adam with the paper's lr and weight decay, constant LR."""
        opt = torch.optim.Adam(
            self.parameters(), lr=float(self.hparams["lr"]), weight_decay=float(self.hparams["weight_decay"])
        )
        return opt, None

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Branch embeddings ``(B, dim)`` (tanh'ed under gated fusion)."""
        return self.head.embed(x, modality)
