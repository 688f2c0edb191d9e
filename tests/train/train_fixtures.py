"""Test fixtures for the trainer: a tiny structured bundle and a small real two-branch method."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from torch import nn

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.methods.base import Batch, Method


def make_tiny_bundle(
    seed: int = 0,
    n_train: int = 14,
    n_val: int = 4,
    n_test: int = 6,
    per_id: int = 6,
    d_face: int = 16,
    d_voice: int = 12,
    with_val: bool = True,
) -> EmbeddingBundle:
    """Identities with a latent z; face = A z + noise, voice = B z + noise (so matching is learnable)."""
    rng = np.random.default_rng(seed)
    n_ids = n_train + n_val + n_test
    Z = rng.normal(size=(n_ids, 6))
    A, B = rng.normal(size=(6, d_face)), rng.normal(size=(6, d_voice))
    rows, F, V = [], [], []
    for k in range(n_ids):
        split = "train" if k < n_train else ("val" if k < n_train + n_val else "test_unseen")
        if split == "val" and not with_val:
            split = "train"
        for modality, M, out in (("face", A, F), ("voice", B, V)):
            for j in range(per_id):
                item_split = "test_seen" if split == "train" and j == per_id - 1 else split
                rows.append(
                    {
                        "item_id": f"{modality[0]}{k:03d}_{j}",
                        "identity": f"id{k:03d}",
                        "modality": modality,
                        "video": f"vid{j}",
                        "split": item_split,
                        "gender": "mf"[k % 2],
                        "nationality": ["a", "b", "c"][k % 3],
                    }
                )
                out.append(Z[k] @ M + 0.8 * rng.normal(size=M.shape[1]))
    manifest = make_manifest(pd.DataFrame(rows))
    return EmbeddingBundle(
        manifest,
        {"face": np.asarray(F, np.float32), "voice": np.asarray(V, np.float32)},
        tags={"face": "tiny-face", "voice": "tiny-voice"},
    )


class SimulatedCrash(RuntimeError):
    """Raised by :class:`TinyTwoBranch` at ``fail_at_step`` (a process killed mid-epoch)."""


class TinyTwoBranch(Method):
    """Linear branch per modality into a shared 8-d space, dropout, shared classifier; CE on both.

    ``sampling`` is a hyper-parameter so one class exercises all three samplers. A buffer counts the
    optimiser steps (model state that must survive a resume); a linear-decay LR scheduler gives the
    scheduler state something to carry. ``$TINY_FAIL_AT_STEP`` raises inside the step hook (simulated crash).
    """

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams) -> None:
        super().__init__(d_face, d_voice, n_classes, **hparams)
        self.sampling = hparams.get("sampling", "paired")
        self.order = hparams.get("order", "random")
        self.face_branch = nn.Sequential(nn.Linear(d_face, 8), nn.Dropout(0.2))
        self.voice_branch = nn.Sequential(nn.Linear(d_voice, 8), nn.Dropout(0.2))
        self.classifier = nn.Linear(8, n_classes)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))
        fail = os.environ.get("TINY_FAIL_AT_STEP")  # not a hyper-parameter: a resumed run has the same config
        self.fail_at_step = int(fail) if fail else None
        self.seen_modalities: list[str] = []

    def configure_optimizer(self, n_steps: int):
        lr = float(self.hparams.get("lr", 1e-2))
        if self.hparams.get("optimizer") == "sgd":
            return torch.optim.SGD(self.parameters(), lr=lr), None
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.5 * s / max(n_steps, 1))
        return opt, sched

    def modality_schedule(self, epoch, n_epochs, step, steps_per_epoch):
        if self.order == "hefhev":
            return "face" if step < steps_per_epoch // 2 else "voice"
        if self.order == "pairs":
            return "pairs"
        return None

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        terms = {}
        if batch.face is not None:
            terms["ce_face"] = nn.functional.cross_entropy(self.classifier(self.face_branch(batch.face)), batch.labels)
        if batch.voice is not None:
            terms["ce_voice"] = nn.functional.cross_entropy(
                self.classifier(self.voice_branch(batch.voice)), batch.labels
            )
        if batch.modality is not None:
            self.seen_modalities.append(batch.modality)
        terms["loss"] = sum(terms.values())
        return terms

    def on_step_end(self, batch, out, step) -> None:
        self.steps_seen += 1
        if self.fail_at_step is not None and step == self.fail_at_step:
            raise SimulatedCrash(f"simulated interruption at step {step}")

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        return (self.face_branch if modality == "face" else self.voice_branch)(x)


class TinyCCA(Method):
    """A non-trainable method: class-mean least-squares map of voices onto faces, fitted in fit_bundle."""

    trainable = False

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams) -> None:
        super().__init__(d_face, d_voice, n_classes, **hparams)
        self.register_buffer("W", torch.zeros(d_voice, d_face))

    def fit_bundle(self, bundle: EmbeddingBundle) -> None:
        if set(bundle.manifest["split"]) != {"train"}:
            raise ValueError(f"fit_bundle must only see the train split, got {sorted(set(bundle.manifest['split']))}")
        f_df, F = bundle.select("face", "train")
        v_df, V = bundle.select("voice", "train")
        ids = sorted(set(f_df["identity"]))
        Fm = np.stack([F[(f_df["identity"] == i).to_numpy()].mean(0) for i in ids])
        Vm = np.stack([V[(v_df["identity"] == i).to_numpy()].mean(0) for i in ids])
        W, *_ = np.linalg.lstsq(Vm, Fm, rcond=None)
        self.W.copy_(torch.as_tensor(W, dtype=torch.float32))

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        return x if modality == "face" else x @ self.W


METHOD = "train_fixtures:TinyTwoBranch"
