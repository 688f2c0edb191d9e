"""Per-epoch validation for checkpoint selection: cross-modal verification on held-out identities.

The trials are built once (seeded, independent of the training seed so every seed of a benchmark
selects on the same trials): for each voice item of the selection split, one face of the same
identity (target) and one face of another identity of that split (non-target), up to
``max_probes`` probes. The score is the cosine of :meth:`Method.embed` outputs; the selection
metric is the exact ROC EER (lower is better), AUC is logged beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facevoice.data.bundle import EmbeddingBundle
from facevoice.methods.base import Method


@dataclass
class ValidationSet:
    """Face (Nf, Df) and voice (Nv, Dv) items of the selection identities plus trials (T,) over them."""

    face: torch.Tensor
    voice: torch.Tensor
    trial_voice: np.ndarray
    trial_face: np.ndarray
    labels: np.ndarray
    splits: tuple[str, ...]
    n_identities: int

    @classmethod
    def from_bundle(
        cls,
        bundle: EmbeddingBundle,
        splits: tuple[str, ...] = ("val",),
        seed: int = 0,
        max_probes: int = 5000,
        device: str | torch.device = "cpu",
    ) -> ValidationSet | None:
        """Build the trials; None when the splits hold fewer than 2 identities with both modalities."""
        f_df, F = bundle.select("face", splits)
        v_df, V = bundle.select("voice", splits)
        ids = sorted(set(f_df["identity"]) & set(v_df["identity"]))
        if len(ids) < 2:
            return None
        rng = np.random.default_rng(seed)
        f_keep = f_df["identity"].isin(ids).to_numpy()
        v_keep = v_df["identity"].isin(ids).to_numpy()
        f_lab = f_df.loc[f_keep, "identity"].map({c: i for i, c in enumerate(ids)}).to_numpy()
        v_lab = v_df.loc[v_keep, "identity"].map({c: i for i, c in enumerate(ids)}).to_numpy()
        probes = np.arange(len(v_lab))
        if len(probes) > max_probes:
            probes = np.sort(rng.choice(probes, size=max_probes, replace=False))
        by_id = [np.flatnonzero(f_lab == k) for k in range(len(ids))]
        pos = np.array([rng.choice(by_id[v_lab[p]]) for p in probes])
        other = (v_lab[probes] + rng.integers(1, len(ids), size=len(probes))) % len(ids)
        neg = np.array([rng.choice(by_id[k]) for k in other])
        return cls(
            face=torch.as_tensor(np.asarray(F[f_keep], dtype=np.float32), device=device),
            voice=torch.as_tensor(np.asarray(V[v_keep], dtype=np.float32), device=device),
            trial_voice=np.concatenate([probes, probes]),
            trial_face=np.concatenate([pos, neg]),
            labels=np.concatenate([np.ones(len(probes), np.int64), np.zeros(len(probes), np.int64)]),
            splits=tuple(splits),
            n_identities=len(ids),
        )

    @torch.no_grad()
    def evaluate(self, method: Method, batch_size: int = 4096) -> dict[str, float]:
        """``{"val_eer", "val_auc"}`` of cosine scores of ``method.embed`` outputs (method left in eval mode)."""
        from facevoice.eval.metrics import auc, eer

        method.eval()
        f = _embed(method, self.face, "face", batch_size)
        v = _embed(method, self.voice, "voice", batch_size)
        scores = (f[self.trial_face] * v[self.trial_voice]).sum(1).double().cpu().numpy()
        if not np.isfinite(scores).all():
            return {"val_eer": float("nan"), "val_auc": float("nan")}
        return {"val_eer": float(eer(scores, self.labels).eer), "val_auc": float(auc(scores, self.labels))}


def _embed(method: Method, X: torch.Tensor, modality: str, batch_size: int) -> torch.Tensor:
    out = torch.cat([method.embed(X[i : i + batch_size], modality) for i in range(0, len(X), batch_size)])
    return torch.nn.functional.normalize(out.float(), dim=1)
