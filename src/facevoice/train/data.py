"""Training data from an :class:`~facevoice.data.bundle.EmbeddingBundle`'s ``train`` split.

Only identities that have items in *both* modalities become classes (class index 0..C-1 in sorted
identity order); identities with a single modality are listed in :attr:`TrainData.dropped` and
written to the run directory, never dropped silently. Embeddings live on the training device as
float32 tensors, so a batch is an index gather.

When a bundle has no ``val`` identities, the caller holds a seeded fraction of the training
identities out for selection first (:func:`facevoice.data.splits.carve_validation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from facevoice.data.bundle import EmbeddingBundle
from facevoice.methods.base import Batch


@dataclass
class TrainData:
    """Training tensors: face (Nf, Df), voice (Nv, Dv), their class labels (Nf,), (Nv,) and item groups."""

    face: torch.Tensor
    voice: torch.Tensor
    face_labels: np.ndarray
    voice_labels: np.ndarray
    classes: list[str]
    dropped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n_classes = len(self.classes)
        self.face_groups = _groups(self.face_labels, self.n_classes)
        self.voice_groups = _groups(self.voice_labels, self.n_classes)
        self._face_labels_t = torch.tensor(self.face_labels, dtype=torch.long, device=self.face.device)
        self._voice_labels_t = torch.tensor(self.voice_labels, dtype=torch.long, device=self.voice.device)

    @property
    def d_face(self) -> int:
        return int(self.face.shape[1])

    @property
    def d_voice(self) -> int:
        return int(self.voice.shape[1])

    @classmethod
    def from_bundle(
        cls, bundle: EmbeddingBundle, splits: tuple[str, ...] = ("train",), device: str | torch.device = "cpu"
    ) -> TrainData:
        """Collect ``splits`` of both modalities; classes = identities present in both."""
        f_df, F = bundle.select("face", splits)
        v_df, V = bundle.select("voice", splits)
        if len(f_df) == 0 or len(v_df) == 0:
            raise ValueError(f"bundle has {len(f_df)} face and {len(v_df)} voice items in split(s) {list(splits)}")
        f_ids, v_ids = set(f_df["identity"]), set(v_df["identity"])
        classes = sorted(f_ids & v_ids)
        if len(classes) < 2:
            raise ValueError(f"training needs >= 2 identities with both modalities in {list(splits)}, got {classes}")
        dropped = sorted((f_ids | v_ids) - set(classes))
        index = {c: i for i, c in enumerate(classes)}
        f_keep = f_df["identity"].isin(index).to_numpy()
        v_keep = v_df["identity"].isin(index).to_numpy()
        return cls(
            face=torch.as_tensor(np.asarray(F[f_keep], dtype=np.float32), device=device),
            voice=torch.as_tensor(np.asarray(V[v_keep], dtype=np.float32), device=device),
            face_labels=f_df.loc[f_keep, "identity"].map(index).to_numpy(np.int64),
            voice_labels=v_df.loc[v_keep, "identity"].map(index).to_numpy(np.int64),
            classes=classes,
            dropped=dropped,
        )

    # -- batches --------------------------------------------------------------------------------
    def random_member(self, modality: str, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random item row of ``modality`` for each class in ``labels`` (B,) -> (B,)."""
        order, start, count = self.face_groups if modality == "face" else self.voice_groups
        pick = start[labels] + np.floor(rng.random(len(labels)) * count[labels]).astype(np.int64)
        return order[pick]

    def paired_batch(self, face_rows: np.ndarray, voice_rows: np.ndarray) -> Batch:
        """Row-aligned batch: face (B, Df), voice (B, Dv), labels (B,) from the voice rows."""
        labels = self._voice_labels_t[torch.as_tensor(voice_rows, device=self.voice.device)]
        fr = torch.as_tensor(face_rows, device=self.face.device)
        vr = torch.as_tensor(voice_rows, device=self.voice.device)
        return Batch(labels=labels, face=_rows(self.face, fr), voice=_rows(self.voice, vr), identity_index=labels)

    def modality_batch(self, modality: str, rows: np.ndarray) -> Batch:
        """Single-modality batch: that modality's tensor (B, D) and labels (B,)."""
        X, lab = (self.face, self._face_labels_t) if modality == "face" else (self.voice, self._voice_labels_t)
        r = torch.as_tensor(rows, device=X.device)
        labels = lab[r]
        if modality == "face":
            return Batch(labels=labels, face=_rows(X, r), modality="face", identity_index=labels)
        return Batch(labels=labels, voice=_rows(X, r), modality="voice", identity_index=labels)

    def mixed_batch(self, face_rows: np.ndarray, voice_rows: np.ndarray) -> Batch:
        """Unpaired batch of both modalities: face (Bf, Df), voice (Bv, Dv), labels (Bf + Bv,), faces first."""
        f = torch.as_tensor(face_rows, device=self.face.device)
        v = torch.as_tensor(voice_rows, device=self.voice.device)
        labels = torch.cat([self._face_labels_t[f], self._voice_labels_t[v]])
        return Batch(labels=labels, face=_rows(self.face, f), voice=_rows(self.voice, v), identity_index=labels)


def _rows(X: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``X[rows]`` (B, D) through ``index_select``: the same copy, without advanced indexing's general
    machinery (several times faster for a batch of wide rows on the CPU)."""
    return torch.index_select(X, 0, rows)


def _groups(labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by class, start offset and count per class."""
    order = np.argsort(labels, kind="stable")
    count = np.bincount(labels, minlength=n_classes)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return order, start, count
