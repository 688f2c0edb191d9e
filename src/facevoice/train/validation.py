"""Per-epoch validation for checkpoint selection: cross-modal verification on held-out identities.

Every voice item of the selection split is scored against every face item of that split (cosine of
:meth:`Method.embed` outputs, or the method's own scoring back-end, :meth:`Method.score_backend`,
e.g. a log-likelihood ratio), so the figures carry no trial-sampling noise: with 100 validation
identities of 8 items per modality that is 6,400 target and 633,600 non-target pairs, where one
sampled non-target per probe (the previous design, and the reference code's fixed lists) left the
EER of two candidate checkpoints ±1.6 points apart by chance. Splits larger than ``max_items`` per
modality are subsampled once (seeded, independent of the training seed, so every seed of a
benchmark selects on the same pairs).

Logged per evaluation: ``val_eer`` and ``val_auc`` over all pairs, and ``val_auc_<C>`` for the
demographic constraints whose manifest columns are present (non-targets restricted to the voice
probe's gender ``G``, nationality ``N``, age band ``A``, all three ``GNA``, as in
:mod:`facevoice.eval.protocols.protocol_set`). ``metric`` picks the selection criterion (lower is better
internally): ``eer``, ``auc``, or ``auc_mean`` (the mean of the random and constrained AUCs).

:func:`pair_masks` and :func:`score_all_pairs` are the one all-pairs scoring of facevoice: the head
methods' :class:`ValidationSet` (cached embeddings) and ``finetune``'s validation (media through the
encoders) both call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from facevoice.backends.scores import CosineScore
from facevoice.data.bundle import EmbeddingBundle
from facevoice.eval.metrics import auc, eer
from facevoice.eval.protocols.builders import CONSTRAINTS
from facevoice.methods.base import Method
from facevoice.train.config import VAL_METRICS


@dataclass
class ValidationSet:
    """Face (Nf, Df) and voice (Nv, Dv) items of the selection identities; ``same`` (Nv, Nf) marks targets."""

    face: torch.Tensor
    voice: torch.Tensor
    same: np.ndarray
    splits: tuple[str, ...]
    n_identities: int
    constraints: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (Nv, Nf) non-targets kept
    metric: str = "eer"

    def __post_init__(self) -> None:
        if self.metric not in VAL_METRICS:
            raise ValueError(f"validation metric must be one of {list(VAL_METRICS)}, got {self.metric!r}")

    @classmethod
    def from_bundle(
        cls,
        bundle: EmbeddingBundle,
        splits: tuple[str, ...] = ("val",),
        seed: int = 0,
        max_items: int = 5000,
        device: str | torch.device = "cpu",
        metric: str = "eer",
    ) -> ValidationSet | None:
        """All voice x face pairs of ``splits``; None when fewer than 2 identities have both modalities."""
        f_df, F = bundle.select("face", splits)
        v_df, V = bundle.select("voice", splits)
        ids = sorted(set(f_df["identity"]) & set(v_df["identity"]))
        if len(ids) < 2:
            return None
        rng = np.random.default_rng(seed)
        f_keep = _subsample(f_df["identity"].isin(ids).to_numpy(), max_items, rng)
        v_keep = _subsample(v_df["identity"].isin(ids).to_numpy(), max_items, rng)
        same, constraints = pair_masks(v_df[v_keep], f_df[f_keep])
        return cls(
            face=torch.as_tensor(np.asarray(F[f_keep], dtype=np.float32), device=device),
            voice=torch.as_tensor(np.asarray(V[v_keep], dtype=np.float32), device=device),
            same=same,
            splits=tuple(splits),
            n_identities=len(ids),
            constraints=constraints,
            metric=metric,
        )

    @property
    def n_pairs(self) -> int:
        return int(self.same.size)

    @torch.no_grad()
    def evaluate(self, method: Method, batch_size: int = 4096) -> dict[str, float]:
        """``val_eer``, ``val_auc``, ``val_auc_<C>`` and the selection value ``val_metric`` (lower is better)."""

        method.eval()
        backend = method.score_backend()
        if isinstance(backend, CosineScore):
            f = _embed(method, self.face, "face", batch_size)
            v = _embed(method, self.voice, "voice", batch_size)
            return score_all_pairs(v, f, self.same, self.constraints, self.metric)
        # the method's own scores (e.g. PLDA log-likelihood ratios) of its raw embed outputs
        f = _embed(method, self.face, "face", batch_size, normalize=False).double().cpu().numpy()
        v = _embed(method, self.voice, "voice", batch_size, normalize=False).double().cpu().numpy()
        S = backend.matrix_scores(backend.vectors(f, "face"), backend.vectors(v, "voice")).T
        return pair_figures(S, self.same, self.constraints, self.metric)


def pair_masks(v_df: pd.DataFrame, f_df: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``same`` (Nv, Nf): voice row i and face row j are one identity; and the constrained non-target
    masks (name -> (Nv, Nf)) of :func:`score_all_pairs`, from the items' manifest rows."""
    v_df, f_df = v_df.reset_index(drop=True), f_df.reset_index(drop=True)
    same = v_df["identity"].to_numpy()[:, None] == f_df["identity"].to_numpy()[None, :]
    return same, _constraint_masks(v_df, f_df, same)


def score_all_pairs(
    voice: torch.Tensor,
    face: torch.Tensor,
    same: np.ndarray,
    constraints: dict[str, np.ndarray] | None = None,
    metric: str = "eer",
) -> dict[str, float]:
    """Cosine of every voice (Nv, D) x face (Nf, D) pair (rows L2-normalised) -> validation figures.

    ``val_eer`` (exact ROC crossing) and ``val_auc`` over all pairs (``same`` marks targets), ``val_auc_<C>``
    with the non-targets restricted to ``constraints[C]``, and ``val_metric``, the selection value
    (lower is better): the EER, or minus the AUC (``auc``) or minus the mean AUC (``auc_mean``).
    Non-finite scores give NaN figures (a diverged model is never selected).
    """
    return pair_figures((voice @ face.T).double().cpu().numpy(), same, constraints, metric)


def pair_figures(
    S: np.ndarray, same: np.ndarray, constraints: dict[str, np.ndarray] | None = None, metric: str = "eer"
) -> dict[str, float]:
    """Validation figures of a voice x face score matrix ``S`` (Nv, Nf) (see :func:`score_all_pairs`)."""
    if metric not in VAL_METRICS:
        raise ValueError(f"validation metric must be one of {list(VAL_METRICS)}, got {metric!r}")
    constraints = constraints or {}
    if same.all() or not same.any():
        raise ValueError(f"all-pairs validation needs target and non-target pairs; got {int(same.sum())} targets")
    if not np.isfinite(S).all():
        out = {"val_eer": float("nan"), "val_auc": float("nan")}
        return {**out, **{f"val_auc_{c}": float("nan") for c in constraints}, "val_metric": float("nan")}
    pos = S[same]
    labels = same.ravel().astype(np.int8)
    out = {"val_eer": float(eer(S.ravel(), labels).eer), "val_auc": float(auc(S.ravel(), labels))}
    for name, keep in constraints.items():
        neg = S[keep]
        labels = np.r_[np.ones(len(pos), np.int8), np.zeros(len(neg), np.int8)]
        out[f"val_auc_{name}"] = float(auc(np.r_[pos, neg], labels))
    if metric == "eer":
        out["val_metric"] = out["val_eer"]
    elif metric == "auc":
        out["val_metric"] = -out["val_auc"]
    else:
        aucs = [out["val_auc"]] + [out[f"val_auc_{c}"] for c in constraints]
        out["val_metric"] = -float(np.mean(aucs))
    return out


def _subsample(keep: np.ndarray, max_items: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask ``keep`` thinned to at most ``max_items`` rows (seeded)."""
    idx = np.flatnonzero(keep)
    if len(idx) <= max_items:
        return keep
    out = np.zeros_like(keep)
    out[rng.choice(idx, size=int(max_items), replace=False)] = True
    return out


def _constraint_masks(v_df: pd.DataFrame, f_df: pd.DataFrame, same: np.ndarray) -> dict[str, np.ndarray]:
    """Non-target pairs that share the constrained attributes, per constraint whose columns exist and vary."""
    out = {}
    for name, cols in CONSTRAINTS.items():
        if not cols or not all(c in v_df and c in f_df for c in cols):
            continue
        if any(v_df[c].isna().any() or f_df[c].isna().any() for c in cols):
            continue
        keep = ~same
        for c in cols:
            keep = keep & (v_df[c].astype(str).to_numpy()[:, None] == f_df[c].astype(str).to_numpy()[None, :])
        if keep.any() and keep.sum() < (~same).sum():  # some non-targets, and the constraint removes some
            out[name] = keep
    return out


def _embed(method: Method, X: torch.Tensor, modality: str, batch_size: int, normalize: bool = True) -> torch.Tensor:
    out = torch.cat([method.embed(X[i : i + batch_size], modality) for i in range(0, len(X), batch_size)])
    return torch.nn.functional.normalize(out.float(), dim=1) if normalize else out
