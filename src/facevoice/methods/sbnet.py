"""SBNet as a method: one shared branch trained on one modality per batch, in a chosen order.

Losses (``loss``): ``"opl"`` CE + alpha·OPL; ``"center"`` CE + alpha_c·L_C; ``"git"`` (default, the
configuration of the published VoxCeleb1 figure) CE + alpha_c·L_C + alpha_g·L_G. All on the
L2-normalised embeddings. ``reference_tf=True`` reproduces SBNet's TensorFlow code for the centre
losses (METHODS.md §5): centre loss on the logits, element-wise means, Xavier-initialised centres
that are never updated. The reference weights every auxiliary term by 1, which are the defaults.
``loss`` may name any other registered loss fed by the embeddings (``features``), the labels and the
logits; ``loss_args`` sets its arguments (and overrides those the SBNet names above stand for);
``alpha`` weighs whichever auxiliary loss is chosen (1: the centre losses carry alpha_c / alpha_g).

Training orders (``order``, via :meth:`modality_schedule`): ``random`` (mixed batches: faces and
voices pooled and shuffled together, as in the reference code), ``hefhev`` / ``hevhef`` (first
half of every epoch faces then voices, or the reverse), ``fvfv`` / ``vfvf`` (alternate whole
epochs, starting with faces or voices), ``face_only``, ``voice_only``. A batch that carries both
modalities (paired, or mixed with one label per row) goes through the branch in one pass.
The reference code's ``fvfv`` / ``vfvf`` differ from the paper's: they interleave the face and
the voice row of one training pair inside every batch (``f v f v ...`` or ``v f v f ...``).
facevoice follows METHODS.md (whole epochs) by default; ``order="paired_rows"`` is the reference
behaviour: every batch holds ``B / 2`` face–voice pairs of the same identities. The two reference
names compute the same thing here: the branch is row-wise and batch norm, CE and the auxiliary
losses do not depend on the order of rows within a batch.

Architecture: ``layers`` (2, the paper's d_in → 128 → 128; 1 keeps only the first block) and
``hidden_dim`` (the first block's width, default ``dim``) exist so released checkpoints of other
shapes load (:mod:`facevoice.interop.checkpoints`); the paper's branch is the default.

Optimiser: Adam lr 1e-5 with exponential decay ``lr · rate^(step / decay_steps)``; rate 0.96 and
``decay_steps`` = one epoch by default (the paper gives no rate: facevoice's choice).
Embeddings serve cross-modal and unimodal (face–face, voice–voice) verification alike.
"""

from __future__ import annotations

from typing import Any

import torch

from facevoice.heads import create_head
from facevoice.losses import create_loss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, resolve_hparams
from facevoice.methods.loss_choice import build_chosen_loss, detached_terms
from facevoice.methods.registry import METHODS

ORDERS = ("random", "hefhev", "hevhef", "fvfv", "vfvf", "face_only", "voice_only", "paired_rows")

SBNET_DEFAULTS: dict[str, Any] = {
    "order": "random",
    "loss": "git",
    "loss_args": {},
    "dim": 128,
    "layers": 2,
    "hidden_dim": None,
    "dropout": 0.5,
    "adapter": "auto",
    "adapter_dim": None,
    "alpha": 1.0,
    "opl_gamma": 0.7,
    "alpha_c": 1.0,
    "alpha_g": 1.0,
    "git_pairs": "i_ne_j",
    "center_lr": 0.5,
    "reference_tf": False,
    "lr": 1e-5,
    "weight_decay": 0.0,
    "lr_decay_rate": 0.96,
    "lr_decay_steps": None,
}


#: what the shared branch offers the auxiliary loss, and the loss arguments SBNet's own names stand for
SBNET_LOSS_INPUTS = ("features", "labels", "logits")
SBNET_LOSS_ARGS = {
    "opl": {"gamma": "opl_gamma"},
    "center": {"weight": "alpha_c", "center_lr": "center_lr"},
    "git": {"lambda_c": "alpha_c", "lambda_g": "alpha_g", "pairs": "git_pairs", "center_lr": "center_lr"},
}


@METHODS.register("sbnet")
class SBNetMethod(Method):
    """Single-branch network (Saeed et al., ICASSP 2023)."""

    sampling = "modality"
    default_batch_size = 128
    smoke_hparams = {"lr": 1e-2}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("sbnet", SBNET_DEFAULTS, hparams)
        check_choice("sbnet", "order", hp["order"], ORDERS)
        super().__init__(d_face, d_voice, n_classes, **hp)
        dim = int(hp["dim"])
        self.head = create_head(
            "sbnet",
            d_face,
            d_voice,
            n_classes,
            dim=dim,
            dropout=float(hp["dropout"]),
            adapter=hp["adapter"],
            adapter_dim=hp["adapter_dim"],
            layers=int(hp["layers"]),
            hidden_dim=hp["hidden_dim"],
        )
        self.ce = create_loss("cross_entropy")
        # SBNet's TF code applies its centre loss to the logits (METHODS.md §5)
        self.center_on = "logits" if hp["reference_tf"] and hp["loss"] == "center" else "embeddings"
        sizes = {"n_classes": n_classes, "dim": n_classes if self.center_on == "logits" else dim}
        ref = bool(hp["reference_tf"])
        centre = {
            "update_centers": not ref,
            "init": "xavier" if ref else "zeros",
            "form": "reference_tf" if ref else "paper",
        }
        self.aux = build_chosen_loss(
            "sbnet",
            hp,
            SBNET_DEFAULTS,
            provides=SBNET_LOSS_INPUTS,
            sizes=sizes,
            legacy=SBNET_LOSS_ARGS,
            fixed={"center": centre, "git": centre},
        )
        self._steps_per_epoch: int | None = None

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "ce", "acc", <aux terms>}`` for a one-modality (or mixed) batch."""
        if batch.face is None and batch.voice is None:
            raise ValueError("method 'sbnet' got a batch with neither face nor voice")
        out = self.head(batch.face, batch.voice)
        present = [m for m in ("face", "voice") if m in out]
        emb = torch.cat([out[m] for m in present], dim=0)
        logits = torch.cat([out[f"{m}_logits"] for m in present], dim=0)
        n_rows = sum(len(out[m]) for m in present)
        # paired batch: one label per pair; mixed batch (random order): labels of the face rows, then the voices
        labels = batch.labels if len(batch.labels) == n_rows else torch.cat([batch.labels] * len(present), dim=0)
        ce = self.ce(logits, labels)
        features = logits if self.center_on == "logits" else emb
        aux = self.aux.compute({"features": features, "labels": labels, "logits": logits})
        loss = ce["loss"] + float(self.hparams["alpha"]) * aux["loss"]
        return {"loss": loss, "ce": ce["loss"].detach(), "acc": ce["acc"], **detached_terms(aux, self.hparams["loss"])}

    def modality_schedule(self, epoch: int, n_epochs: int, step: int, steps_per_epoch: int) -> str | None:
        """The training order: which modality step ``step`` of epoch ``epoch`` (0-based) trains.

        ``None``: a mixed batch (``random``); ``"pairs"``: face–voice pairs (``paired_rows``).
        """
        self._steps_per_epoch = int(steps_per_epoch)
        order = self.hparams["order"]
        first_half = 2 * step < steps_per_epoch
        even_epoch = epoch % 2 == 0
        return {
            "random": None,
            "hefhev": "face" if first_half else "voice",
            "hevhef": "voice" if first_half else "face",
            "fvfv": "face" if even_epoch else "voice",
            "vfvf": "voice" if even_epoch else "face",
            "face_only": "face",
            "voice_only": "voice",
            "paired_rows": "pairs",
        }[order]

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Adam (lr 1e-5) with exponential decay per step; ``decay_steps`` defaults to one epoch."""
        hp = self.hparams
        opt = torch.optim.Adam(self.parameters(), lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"]))
        rate = float(hp["lr_decay_rate"])

        def factor(step: int) -> float:
            every = hp["lr_decay_steps"] or self._steps_per_epoch or max(1, n_steps // 50)
            return rate ** (step / float(every))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """L2-normalised shared-branch embeddings ``(B, dim)``."""
        return self.head.embed(x, modality)
