"""Paired face–voice training data and per-item evaluation data read from input caches.

Training pairs: every epoch, each training voice item is paired with a face item (and one of its
frames) of the same identity drawn at random, the pairs are shuffled, and each voice is cropped to
``crop_seconds`` at a random offset. All randomness comes from ``(seed, epoch, index)``, so every
process of a data-parallel run sees the same global batches and the run does not depend on the
number of processes or workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from facevoice.encoders.hf.audio import prepare_audio
from facevoice.encoders.hf.vision import prepare_images
from facevoice.finetune.cache import InputCache


@dataclass
class PairPlan:
    """Training identities and items usable in both modalities (``labels`` index ``identities``)."""

    identities: list[str]
    voice_ids: list[str]
    voice_labels: np.ndarray
    faces_by_label: list[list[str]]
    dropped: list[str]


def plan_pairs(manifest: pd.DataFrame, split: str, voice: InputCache, face: InputCache) -> PairPlan:
    """Identities of ``split`` with at least one cached voice and one cached face item.

    Identities with only one modality are listed in ``dropped`` (reported, never silently ignored).
    """
    rows = manifest[manifest["split"] == split]
    v = rows[(rows["modality"] == "voice") & rows["item_id"].isin(set(voice.ids()))]
    f = rows[(rows["modality"] == "face") & rows["item_id"].isin(set(face.ids()))]
    both = sorted(set(v["identity"]) & set(f["identity"]))
    dropped = sorted(set(rows["identity"]) - set(both))
    if not both:
        raise ValueError(f"split {split!r}: no identity has both a cached voice and a cached face item")
    label = {ident: i for i, ident in enumerate(both)}
    v = v[v["identity"].isin(label)].sort_values("item_id")
    faces: list[list[str]] = [[] for _ in both]
    for iid, ident in f[f["identity"].isin(label)].sort_values("item_id")[["item_id", "identity"]].itertuples(False):
        faces[label[ident]].append(iid)
    return PairPlan(both, list(v["item_id"]), v["identity"].map(label).to_numpy(), faces, dropped)


class PairDataset(Dataset):
    """One epoch of (voice crop, face frame, identity label) pairs; call :meth:`set_epoch` each epoch."""

    def __init__(
        self,
        plan: PairPlan,
        voice: InputCache,
        face: InputCache,
        crop_samples: int | None,
        seed: int,
        pairs_per_epoch: int | None = None,
    ) -> None:
        self.plan, self.voice, self.face = plan, voice, face
        self.crop = crop_samples
        self.seed = int(seed)
        self.size = int(pairs_per_epoch or len(plan.voice_ids))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's pairs and order from ``(seed, epoch)``."""
        self.epoch = int(epoch)
        rng = np.random.default_rng([self.seed, self.epoch, 7])
        n_voice = len(self.plan.voice_ids)
        order = np.concatenate([rng.permutation(n_voice) for _ in range(-(-self.size // n_voice))])[: self.size]
        self.pairs = []
        for vi in order:
            label = int(self.plan.voice_labels[vi])
            face_id = self.plan.faces_by_label[label][rng.integers(len(self.plan.faces_by_label[label]))]
            frame = int(rng.integers(self.face.n_parts(face_id)))
            self.pairs.append((self.plan.voice_ids[vi], face_id, frame, label))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, Any]:
        voice_id, face_id, frame, label = self.pairs[i]
        wave = self.voice.get(voice_id)[0]
        if self.crop is not None and wave.size > self.crop:
            start = int(np.random.default_rng([self.seed, self.epoch, i, 11]).integers(wave.size - self.crop + 1))
            wave = wave[start : start + self.crop]
        return {"index": i, "wave": wave, "image": self.face.get(face_id)[frame], "label": label}


class ItemDataset(Dataset):
    """Every part (waveform or frame) of the given items, for embedding; ``rows[i] = (item_id, part)``."""

    def __init__(self, cache: InputCache, item_ids: list[str]) -> None:
        self.cache = cache
        self.rows = [(iid, k) for iid in item_ids for k in range(cache.n_parts(iid))]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        iid, k = self.rows[i]
        return {"index": i, "part": self.cache.get(iid)[k]}


class PairCollator:
    """Batch of pairs → ``{"voice": {input_values, attention_mask}, "face": {pixel_values}, labels, index}``."""

    def __init__(self, voice_processor: Any, face_processor: Any, sample_rate: int) -> None:
        self.voice_processor, self.face_processor, self.sample_rate = voice_processor, face_processor, sample_rate

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:

        return {
            "voice": prepare_audio(self.voice_processor, [it["wave"] for it in items], self.sample_rate),
            "face": {"pixel_values": prepare_images(self.face_processor, [it["image"] for it in items])},
            "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),
            "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
        }


class ItemCollator:
    """Batch of parts of one modality → ``{"inputs": model inputs, "index": (B,)}``."""

    def __init__(self, modality: str, processor: Any, sample_rate: int | None = None) -> None:
        self.modality, self.processor, self.sample_rate = modality, processor, sample_rate

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:

        parts = [it["part"] for it in items]
        if self.modality == "voice":
            inputs = prepare_audio(self.processor, parts, int(self.sample_rate or 16000))
        else:
            inputs = {"pixel_values": prepare_images(self.processor, parts)}
        return {"inputs": inputs, "index": torch.tensor([it["index"] for it in items], dtype=torch.long)}
