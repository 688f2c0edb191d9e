"""``xplda``: facevoice's own method — a residual front-end trained through a Gaussian LLR head, then
the cross-modal PLDA back-end.

Why this shape (docs/backends.md has the measurements). On cached embeddings the cross-modal signal
is carried by identities, a few hundred to a thousand of them. A free cross-modal front-end (the
contrastive projections) memorises the pairing of the training identities: a probabilistic back-end
fitted on their embeddings then sees correlations unseen people do not have and scores worse than
the same back-end on the raw features; identity classifiers discard the shared factor altogether. So
the front-end here is built not to move far from a solution that generalises:

* **Inputs**: per modality, PCA to ``n_pca`` coordinates fitted on training items (fixed).
* **Front-end**: ``y = x + MLP(x)`` per modality (``hidden`` units, GELU, dropout), the last layer
  initialised at zero, so training *starts at the raw features* and only learns a correction of the
  cross-modal relation (a non-linear warp a linear model cannot follow).
* **Head** (training objective and per-epoch validation score): the cross-modal Gaussian LLR of
  :class:`~facevoice.backends.scores.GaussianLLR` with learnable canonical projections and
  correlations, initialised from the closed-form back-end on the training items (settings chosen on
  validation identities), trained with a symmetric InfoNCE over the LLR logits of a batch (other
  pairs of the same identity masked). The trainer keeps the epoch whose validation EER is best.
* **Back-end**: after training, :class:`~facevoice.backends.plda.CrossModalPLDA` is fitted on the
  front-end outputs of the training items (grid chosen on validation) and, as the fall-back, on the
  raw inputs; the one with the lower validation EER is kept (``backend.frontend_used`` in
  ``run.json``), so a front-end that does not help on held-out identities is not used. Scores are
  log-likelihood ratios, with the training identities remembered (``seen_prior``).

``backend: head`` skips the back-end and scores with the trained head (the "front-end alone"
ablation); the benchmark also reports that head as the row ``xplda-head`` of every run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from facevoice.backends.scores import GaussianLLR, ScoreBackend
from facevoice.heads import create_head
from facevoice.heads.residual_llr import DEAD_LOGIT
from facevoice.losses import create_loss
from facevoice.methods.base import Batch, Method, Modality, SplitArrays
from facevoice.methods.common import check_choice, cosine_factor, require_paired, resolve_hparams
from facevoice.methods.plda import PLDA_DEFAULTS, BackendState, Criterion, PCAInput, embed_split, fit_plda
from facevoice.methods.registry import METHODS

XPLDA_DEFAULTS: dict[str, Any] = {
    **PLDA_DEFAULTS,
    "hidden": 256,
    "dropout": 0.1,
    "lr": 3e-4,
    "weight_decay": 1e-4,
    "final_lr_ratio": 0.1,
    "backend": "plda",
}


@METHODS.register("xplda")
class XPLDAMethod(Method):
    """Residual front-end + Gaussian LLR head for training; cross-modal PLDA back-end for scoring."""

    sampling = "paired"
    default_batch_size = 256
    smoke_hparams = {"lr": 1e-2}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("xplda", XPLDA_DEFAULTS, hparams)
        check_choice("xplda", "backend", hp["backend"], ("plda", "head"))
        super().__init__(d_face, d_voice, n_classes, **hp)
        d = int(hp["n_pca"])
        self.inputs = PCAInput(d_face, d_voice, d)
        k = hp["n_components"]
        self.head = create_head(
            "residual_llr",
            d,
            d,
            n_classes,
            hidden=int(hp["hidden"]),
            dropout=float(hp["dropout"]),
            k=int(max(k) if isinstance(k, (list, tuple)) else k),
        )
        self.matching = create_loss("matching_ce")
        self.store = BackendState()
        self.register_buffer("frontend_used", torch.tensor(True))

    # -- set-up ------------------------------------------------------------------------------------
    def prepare(self, train: SplitArrays, val: SplitArrays | None, criterion: Criterion | None = None) -> None:
        """Fit the input PCA on training items; initialise the head with the closed-form back-end."""
        self.inputs.fit(train, int(self.hparams["seed"]))
        was_training = self.training
        self.eval()
        raw_train = embed_split(self.inputs, train)
        raw_val = None if val is None else embed_split(self.inputs, val)
        # one Gaussian is enough to initialise the head (its latent classes are a back-end matter)
        hp = {**self.hparams, "seen_prior": 0.0, "n_mix": [1]}
        backend, _ = fit_plda(raw_train, raw_val, hp, criterion)
        self.head.init_from(backend.full_projections(), backend.rho_)
        self.train(was_training)

    # -- training ----------------------------------------------------------------------------------
    def frontend(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        return self.head.frontend(self.inputs(x, modality), modality)

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """``{"loss", "loss_v2f", "loss_f2v", "acc_v2f", "mean_rho"}`` on a paired batch."""
        face, voice, labels = require_paired("xplda", batch)
        out = self.head(self.inputs(face, "face"), self.inputs(voice, "voice"))
        terms = self.matching.compute({"pair_scores": out["pair_scores"], "labels": labels})
        with torch.no_grad():
            live = self.head.rho_logit > DEAD_LOGIT / 2
            mean_rho = self.head.rho()[live].sum() / live.sum().clamp(min=1)
        return {**terms, "mean_rho": mean_rho}

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW (weight decay on the front-ends' weight matrices only), cosine decay to ``final_lr_ratio``."""
        hp = self.hparams
        fe = list(self.head.face_frontend.parameters()) + list(self.head.voice_frontend.parameters())
        head = [self.head.face_proj, self.head.voice_proj, self.head.rho_logit]
        decay = [p for p in fe if p.ndim >= 2]
        no_decay = [p for p in fe if p.ndim < 2] + head
        groups = [
            {"params": decay, "weight_decay": float(hp["weight_decay"])},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        opt = torch.optim.AdamW(groups, lr=float(hp["lr"]))
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, cosine_factor(n_steps, float(hp["final_lr_ratio"])))

    # -- back-end ----------------------------------------------------------------------------------
    def fit_backend(
        self, train: SplitArrays, val: SplitArrays | None, criterion: Criterion | None = None
    ) -> dict[str, Any] | None:
        """Fit the PLDA back-end on the trained front-end's outputs and on the raw inputs; keep the better
        on validation (the front-end's outputs without validation data)."""
        if self.hparams["backend"] == "head":
            return None
        self.eval()
        fe_val = None if val is None else embed_split(self.frontend, val)
        trained, s_trained = fit_plda(embed_split(self.frontend, train), fe_val, self.hparams, criterion)
        use = True
        summary: dict[str, Any] = {"frontend": s_trained}
        if val is not None:
            raw, s_raw = fit_plda(
                embed_split(self.inputs, train), embed_split(self.inputs, val), self.hparams, criterion
            )
            summary["raw_inputs"] = s_raw
            use = s_trained["val_criterion"] <= s_raw["val_criterion"]
            if not use:
                trained = raw
        self.frontend_used.fill_(use)
        self.store.backend = trained
        summary["frontend_used"] = bool(use)
        return summary

    # -- inference ---------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Front-end outputs ``(B, n_pca)`` (the PCA inputs when validation preferred them)."""
        if bool(self.frontend_used) or self.store.backend is None:
            return self.frontend(x, modality)
        return self.inputs(x, modality)

    def score_backend(self) -> ScoreBackend:
        """The fitted PLDA back-end; before it is fitted (during training) or with ``backend: head``, the head."""
        if self.store.backend is not None:
            return self.store.backend
        return _head_backend(self.head)

    def ablation_backends(self) -> dict[str, ScoreBackend]:
        """``head``: the trained front-end scored by its training head alone (no PLDA back-end)."""
        if self.store.backend is None:
            return {}
        return {"head": _FrontEndHead(self)}


class _FrontEndHead:
    """The training head over the trained front-end, whatever :meth:`XPLDAMethod.embed` returns."""

    llr = True

    def __init__(self, method: XPLDAMethod) -> None:
        self.method, self.head = method, _head_backend(method.head)

    def vectors(self, X: np.ndarray, modality: str) -> np.ndarray:
        # X are embed outputs; when the back-end chose the raw inputs, the front-end is applied on top
        if not bool(self.method.frontend_used):
            with torch.no_grad():
                X = self.method.head.frontend(torch.as_tensor(np.asarray(X), dtype=torch.float32), modality)
                X = X.double().numpy()
        return self.head.vectors(X, modality)

    def pair_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return self.head.pair_scores(face_vec, voice_vec)

    def matrix_scores(self, face_vec: np.ndarray, voice_vec: np.ndarray) -> np.ndarray:
        return self.head.matrix_scores(face_vec, voice_vec)


def _head_backend(head) -> GaussianLLR:
    """The training head as a numpy :class:`GaussianLLR` over front-end outputs."""
    proj = {m: getattr(head, f"{m}_proj").detach().double().cpu().numpy() for m in ("face", "voice")}
    mean = {m: np.zeros(p.shape[0]) for m, p in proj.items()}
    return GaussianLLR(proj, mean, head.rho().detach().double().cpu().numpy())
