"""Input checks shared by the losses: clear errors instead of silent broadcasting."""

from __future__ import annotations

import torch


def check_features_labels(name: str, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Validate ``features (B, D)`` and ``labels (B,)``; return labels as a long tensor on the features' device."""
    if features.ndim != 2:
        raise ValueError(f"{name} expects features of shape (B, D), got {tuple(features.shape)}")
    if features.shape[0] == 0:
        raise ValueError(f"{name} got an empty batch")
    labels = torch.as_tensor(labels, device=features.device)
    if labels.shape != (features.shape[0],):
        raise ValueError(f"{name} expects labels of shape ({features.shape[0]},), got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point:
        raise ValueError(f"{name} expects integer class labels, got dtype {labels.dtype}")
    return labels.long()


def check_pair(name: str, a: torch.Tensor, b: torch.Tensor) -> None:
    """Validate two row-aligned batches ``a (B, D)`` and ``b (B, D)``."""
    if a.ndim != 2 or b.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"{name} expects a and b of the same shape (B, D); got {tuple(a.shape)}, {tuple(b.shape)}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} got an empty batch")


def check_weights(name: str, weights: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor | None:
    """Validate optional per-sample weights ``(B,)``; return them in ``like``'s dtype and device."""
    if weights is None:
        return None
    weights = torch.as_tensor(weights, device=like.device, dtype=like.dtype)
    if weights.shape != (n,):
        raise ValueError(f"{name} expects per-sample weights of shape ({n},), got {tuple(weights.shape)}")
    return weights
