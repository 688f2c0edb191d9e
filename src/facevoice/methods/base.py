"""The contract between cross-modal methods and the one trainer.

A *method* bundles a head (``facevoice.heads``) and its losses (``facevoice.losses``) and says how
it wants to be fed; the trainer (``facevoice.train``) owns epochs, sampling, optimisation steps,
validation-based checkpoint selection, checkpoints and resume, and knows nothing method-specific.

Batches
    :class:`Batch` carries cached embeddings of training items and their class indices
    (0..n_classes-1 over the *training* identities). Which fields are set depends on the
    method's :attr:`Method.sampling`:

    ``"paired"``            face (B, Df), voice (B, Dv), labels (B,): row i of both is the same identity
                            (a voice item with a face item of its identity, re-paired every epoch).
    ``"modality"``          one modality per batch: ``modality`` in {"face", "voice"}, that tensor and
                            labels set, the other None; the modality of each step comes from
                            :meth:`Method.modality_schedule` (SBNet training orders). A schedule of
                            ``None`` gives *mixed* batches instead: face (Bf, Df) and voice (Bv, Dv)
                            of unrelated items, labels (Bf + Bv,) with the face rows first.
    ``"one_per_identity"``  paired, with B distinct identities per batch (SSoS explicit alignment).

    ``weights`` (B,) optional per-sample weights (SSoS identity re-weighting fills it through
    :meth:`Method.sample_weights`).

Evaluation
    :meth:`Method.embed` maps a modality's cached embeddings into the space where
    cross-modal scores are computed (e.g. FOP branch outputs, tanh'ed under gated fusion; PAEFF
    GELU(branch)). Unimodal verification uses the same function. :meth:`Method.score_backend` says
    how two embed outputs become a score: cosine similarity for every published method, or a
    fitted scoring back-end (e.g. the PLDA log-likelihood ratio of ``xplda`` / ``plda``).

Data-dependent set-up (optional hooks, called by ``facevoice.pipelines.run``)
    :meth:`Method.prepare` before the first epoch, with the training and validation items (e.g. a
    PCA fitted on training items); :meth:`Method.fit_backend` after training, with the selected
    checkpoint loaded (e.g. a back-end fitted on training embeddings, its settings chosen on
    validation identities). Both receive ``{"face": (X (n, D), identities (n,)), "voice": (...)}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from facevoice.backends.scores import COSINE, ScoreBackend

Sampling = Literal["paired", "modality", "one_per_identity"]
Modality = Literal["face", "voice"]
#: items of one split per modality: ``{"face": (X (n, Df), identities (n,)), "voice": (X (m, Dv), identities (m,))}``
SplitArrays = Mapping[str, tuple[np.ndarray, np.ndarray]]
#: judges validation scores: ``criterion(scores (n,), labels (n,)) -> float``, lower is better
Criterion = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class Batch:
    """One training batch of cached embeddings. Shapes: face (B, Df), voice (B, Dv), labels (B,)."""

    labels: torch.Tensor
    face: torch.Tensor | None = None
    voice: torch.Tensor | None = None
    modality: Modality | None = None
    weights: torch.Tensor | None = None
    identity_index: torch.Tensor | None = None  # same as labels; kept explicit for re-weighting hooks

    def to(self, device: torch.device | str) -> Batch:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return Batch(
            mv(self.labels), mv(self.face), mv(self.voice), self.modality, mv(self.weights), mv(self.identity_index)
        )


class Method(nn.Module):
    """Base class of every cross-modal method (registered with ``@METHODS.register(name)``).

    Subclasses set :attr:`sampling` and implement :meth:`training_step` and :meth:`embed`; they may
    override the optimiser and the hooks. Constructor signature:
    ``Method(d_face: int, d_voice: int, n_classes: int, **hparams)``; ``hparams`` come from the
    recipe's ``method:`` section. Heads and losses are built by name (``create_head``, ``create_loss``).
    """

    sampling: Sampling = "paired"
    default_batch_size: int = 128
    #: trained by gradient steps; a training-free method (``False``) is fitted with ``fit_bundle``
    trainable: ClassVar[bool] = True
    #: hyper-parameters for a smoke run of a few dozen steps on toy data (a larger learning rate, shorter
    #: schedules); the generic tests train every registered method with them. Empty: the defaults will do.
    smoke_hparams: ClassVar[dict[str, Any]] = {}

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        super().__init__()
        self.d_face, self.d_voice, self.n_classes = int(d_face), int(d_voice), int(n_classes)
        self.hparams: dict[str, Any] = dict(hparams)

    # -- training -----------------------------------------------------------------------------
    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        """Return a dict of named loss terms; ``"loss"`` is the one optimised."""
        raise TypeError(f"{type(self).__name__} must implement training_step")

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Optimiser and (optional) per-step LR scheduler for a run of ``n_steps`` steps."""
        lr = float(self.hparams.get("lr", 1e-3))
        wd = float(self.hparams.get("weight_decay", 0.0))
        return torch.optim.Adam(self.parameters(), lr=lr, weight_decay=wd), None

    def modality_schedule(self, epoch: int, n_epochs: int, step: int, steps_per_epoch: int) -> str | None:
        """For ``sampling == "modality"``: which modality this step trains.

        ``"face"`` / ``"voice"``: one modality; ``None``: a mixed batch; ``"pairs"``: face–voice pairs.
        """
        return None

    def sample_weights(self, labels: torch.Tensor) -> torch.Tensor | None:
        """Per-sample weights (B,) for this batch, or None (uniform)."""
        return None

    def on_step_end(self, batch: Batch, out: dict[str, torch.Tensor], step: int) -> None:
        """Hook after each optimiser step (e.g. SSoS loss EMA and re-weighting updates)."""

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """Hook at the start of each epoch."""

    def prepare(self, train: SplitArrays, val: SplitArrays | None, criterion: Criterion | None = None) -> None:
        """Hook before the first epoch with the training (and validation) items; default: nothing.

        ``criterion(scores (n,), labels (n,)) -> float`` (lower is better) is how the caller judges
        validation scores (the EER by default), for methods that choose settings on ``val``.
        """

    def fit_backend(
        self, train: SplitArrays, val: SplitArrays | None, criterion: Criterion | None = None
    ) -> dict[str, Any] | None:
        """Hook after training, with the selected checkpoint loaded: fit a scoring back-end on the
        training items (choosing its settings on ``val`` only, judged by ``criterion``). Returns a
        JSON-able summary for ``run.json``, or None when the method has no back-end (the default)."""
        return None

    # -- inference ----------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """Map cached embeddings (B, D_modality) to the scoring space (B, D) (see :meth:`score_backend`)."""
        raise TypeError(f"{type(self).__name__} must implement embed")

    def score_backend(self) -> ScoreBackend:
        """How two :meth:`embed` outputs become a score (:class:`~facevoice.backends.scores.ScoreBackend`).

        Default: cosine similarity. A method with a fitted back-end returns it; its ``llr`` flag says
        whether the scores are log-likelihood ratios.
        """
        return COSINE

    def ablation_backends(self) -> dict[str, ScoreBackend]:
        """Other ways of scoring the same embeddings, reported as extra benchmark rows ``<method>-<name>``."""
        return {}
