"""SBNet as a method: one shared branch trained on one modality per batch, in a chosen order.

Losses (``loss``): ``"opl"`` CE + alpha·OPL; ``"center"`` CE + alpha_c·L_C; ``"git"`` (default, the
configuration of the published VoxCeleb1 figure) CE + alpha_c·L_C + alpha_g·L_G. All on the
L2-normalised embeddings. ``reference_tf=True`` reproduces SBNet's TensorFlow code for the centre
losses (METHODS.md §5): centre loss on the logits, element-wise means, Xavier-initialised centres
that are never updated. The reference weights every auxiliary term by 1, which are the defaults.

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

from facevoice.heads.sbnet import ADAPTER_MODES, BRANCH_LAYERS, SBNetHead
from facevoice.losses.center import CenterLoss
from facevoice.losses.cross_entropy import CrossEntropyLoss
from facevoice.losses.git import GIT_PAIRS, GitLoss
from facevoice.losses.opl import OrthogonalProjectionLoss
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, resolve_hparams

ORDERS = ("random", "hefhev", "hevhef", "fvfv", "vfvf", "face_only", "voice_only", "paired_rows")
AUX_LOSSES = ("opl", "center", "git")

SBNET_DEFAULTS: dict[str, Any] = {
    "order": "random",
    "loss": "git",
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


class SBNetMethod(Method):
    """Single-branch network (Saeed et al., ICASSP 2023)."""

    sampling = "modality"
    default_batch_size = 128

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("sbnet", SBNET_DEFAULTS, hparams)
        check_choice("sbnet", "order", hp["order"], ORDERS)
        check_choice("sbnet", "loss", hp["loss"], AUX_LOSSES)
        check_choice("sbnet", "adapter", hp["adapter"], ADAPTER_MODES)
        check_choice("sbnet", "git_pairs", hp["git_pairs"], GIT_PAIRS)
        check_choice("sbnet", "layers", hp["layers"], BRANCH_LAYERS)
        super().__init__(d_face, d_voice, n_classes, **hp)
        dim, ref = int(hp["dim"]), bool(hp["reference_tf"])
        self.head = SBNetHead(
            d_face,
            d_voice,
            n_classes,
            dim,
            float(hp["dropout"]),
            hp["adapter"],
            hp["adapter_dim"],
            int(hp["layers"]),
            hp["hidden_dim"],
        )
        self.ce = CrossEntropyLoss()
        self.center_on = "logits" if ref and hp["loss"] == "center" else "embeddings"
        tf = {
            "update_centers": not ref,
            "init": "xavier" if ref else "zeros",
            "form": "reference_tf" if ref else "paper",
        }
        if hp["loss"] == "opl":
            self.aux: torch.nn.Module = OrthogonalProjectionLoss(float(hp["opl_gamma"]))
        elif hp["loss"] == "center":
            d_aux = n_classes if self.center_on == "logits" else dim
            self.aux = CenterLoss(n_classes, d_aux, float(hp["alpha_c"]), float(hp["center_lr"]), **tf)
        else:
            self.aux = GitLoss(
                n_classes,
                dim,
                float(hp["alpha_c"]),
                float(hp["alpha_g"]),
                hp["git_pairs"],
                float(hp["center_lr"]),
                **tf,
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
        aux_in = logits if self.center_on == "logits" else emb
        aux = self.aux(aux_in, labels)
        alpha = float(self.hparams["alpha"]) if self.hparams["loss"] == "opl" else 1.0
        terms = {f"{self.hparams['loss']}_{k}": v for k, v in aux.items() if k != "loss"}
        return {"loss": ce["loss"] + alpha * aux["loss"], "ce": ce["loss"].detach(), "acc": ce["acc"], **terms}

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
