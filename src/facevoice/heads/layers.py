"""Small building blocks shared by the heads."""

from __future__ import annotations

import torch
from torch import nn

MODALITIES = ("face", "voice")


def fc_block(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    """``Linear(d_in, d_out) → BatchNorm1d → ReLU → Dropout``; indices 0 (Linear) and 1 (BN) hold the weights."""
    return nn.Sequential(nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(), nn.Dropout(dropout))


def init_linear_(module: nn.Module, bias: float = 0.01) -> None:
    """Xavier-uniform weights and constant biases for every ``nn.Linear`` inside ``module`` (FOP's init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)


def check_modality(modality: str) -> str:
    """Return ``modality`` or raise naming the valid ones."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    return modality


def check_input(x: torch.Tensor, d: int, what: str) -> None:
    """Raise a clear error unless ``x`` is a ``(B, d)`` tensor."""
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"{what} expects a tensor of shape (B, {d}), got {tuple(x.shape)}")
