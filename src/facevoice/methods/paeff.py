"""PAEFF as a method: ``0.3 · L_A + 0.35 · OPL + 0.35 · CE``, AdamW, cosine schedule to 1e-8.

``variant`` selects the paper's ablation:

``"baseline"``        FOP-style gated fusion on PAEFF's branches, CE + OPL, no alignment;
``"egff"``            EGFF instead of the gated fusion, no alignment;
``"egff_euclidean"``  EGFF + alignment of the Euclidean (L2-normalised) branch outputs (cosine / T);
``"full"`` (default)  EGFF + alignment of the Poincaré-ball points.

``alignment_similarity`` (full variant): ``"hyperbolic"`` (paper, ``-d_c``) or ``"euclidean_dot"``
(reference code: dot products of the ball points). ``attention`` ∈ {mult, add, concat} and
``egff_mix`` ∈ {activated (paper), raw (reference)} select the EGFF variants. Without alignment
the loss keeps the other two weights (0.35 · CE + 0.35 · OPL).
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads import create_head
from facevoice.losses import create_loss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, cosine_factor, require_paired, resolve_hparams
from facevoice.methods.registry import METHODS

VARIANTS = ("baseline", "egff", "egff_euclidean", "full")

PAEFF_DEFAULTS: dict[str, Any] = {
    "variant": "full",
    "attention": "mult",
    "egff_mix": "activated",
    "alignment_similarity": "hyperbolic",
    "w_align": 0.3,
    "w_opl": 0.35,
    "w_ce": 0.35,
    "temperature": 0.07,
    "c": 0.05,
    "ball_eps": 1e-3,
    "dim": 256,
    "dropout": 0.4,
    "attention_dim": 128,
    "opl_gamma": 0.7,
    "opl_form": "paper",
    "lr": 2e-5,
    "weight_decay": 0.01,
    "eta_min": 1e-8,
}


@METHODS.register("paeff")
class PAEFFMethod(Method):
    """Precise alignment in hyperbolic space + enhanced gated feature fusion (Hannan et al., 2025)."""

    sampling = "paired"
    default_batch_size = 1024
    smoke_hparams = {"lr": 1e-2}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("paeff", PAEFF_DEFAULTS, hparams)
        variant = check_choice("paeff", "variant", hp["variant"], VARIANTS)
        check_choice("paeff", "alignment_similarity", hp["alignment_similarity"], ("hyperbolic", "euclidean_dot"))
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.head = create_head(
            "paeff",
            d_face,
            d_voice,
            n_classes,
            dim=int(hp["dim"]),
            dropout=float(hp["dropout"]),
            c=float(hp["c"]),
            ball_eps=float(hp["ball_eps"]),
            fusion="gated" if variant == "baseline" else "egff",
            attention=hp["attention"],
            mix=hp["egff_mix"],
            attention_dim=int(hp["attention_dim"]),
        )
        self.ce = create_loss("cross_entropy")
        self.opl = create_loss("opl", gamma=float(hp["opl_gamma"]), form=hp["opl_form"])
        self.align: torch.nn.Module | None = None
        if variant in ("egff_euclidean", "full"):
            similarity = "cosine" if variant == "egff_euclidean" else hp["alignment_similarity"]
            self.align = create_loss(
                "hyperbolic_alignment", c=float(hp["c"]), temperature=float(hp["temperature"]), similarity=similarity
            )

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "ce", "opl", "align", "align_acc", "acc"}`` for a paired batch."""
        face, voice, labels = require_paired("paeff", batch)
        hp = self.hparams
        out = self.head(face, voice)
        ce = self.ce(out["logits"], labels)
        opl = self.opl(out["fused"], labels)
        loss = float(hp["w_ce"]) * ce["loss"] + float(hp["w_opl"]) * opl["loss"]
        terms = {"ce": ce["loss"].detach(), "opl": opl["loss"].detach(), "acc": ce["acc"]}
        if self.align is not None:
            pts = ("face", "voice") if hp["variant"] == "egff_euclidean" else ("face_ball", "voice_ball")
            align = self.align(a=out[pts[0]], b=out[pts[1]])
            loss = loss + float(hp["w_align"]) * align["loss"]
            terms.update(align=align["loss"].detach(), align_acc=align["acc"])
        return {"loss": loss, **terms}

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW (lr 2e-5, weight decay 0.01) with a per-step cosine decay to ``eta_min`` over the run."""
        lr = float(self.hparams["lr"])
        opt = torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=float(self.hparams["weight_decay"]))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_factor(n_steps, float(self.hparams["eta_min"]) / lr))
        return opt, sched

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """GELU(branch) ``(B, dim)`` (tanh(branch) for the gated baseline)."""
        return self.head.embed(x, modality)
