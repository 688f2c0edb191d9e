"""Two-branch contrastive head ("Adapt the Face, Not the Voice"): one projection per modality.

The paper does not publish its projection; facevoice's choice (exposed as options) is
``Linear(d, hidden) → GELU → Dropout → Linear(hidden, dim)`` with hidden 512 and dim 256, or a
single ``Linear(d, dim)`` with ``hidden=0``. Outputs are L2-normalised for scoring; the symmetric
InfoNCE loss (``facevoice.losses.infonce``) normalises them itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.heads.layers import check_input, check_modality
from facevoice.heads.registry import HEADS


def projection(d_in: int, dim: int, hidden: int, dropout: float) -> nn.Module:
    """``(B, d_in) -> (B, dim)``: a two-layer MLP, or one linear layer when ``hidden == 0``."""
    if hidden <= 0:
        return nn.Linear(d_in, dim)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


@HEADS.register("contrastive")
class ContrastiveHead(nn.Module):
    """Face and voice projections into a shared space.

    Args:
        d_face, d_voice: input sizes; n_classes: unused (uniform head signature).
        dim: shared space size (256); hidden: MLP width (512; 0 = linear); dropout: MLP dropout (0.1).
    """

    def __init__(
        self, d_face: int, d_voice: int, n_classes: int = 0, dim: int = 256, hidden: int = 512, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.d_face, self.d_voice, self.dim = int(d_face), int(d_voice), int(dim)
        self.face_proj = projection(d_face, dim, hidden, dropout)
        self.voice_proj = projection(d_voice, dim, hidden, dropout)

    def project(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Unnormalised projection ``(B, dim)``."""
        check_modality(modality)
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"ContrastiveHead {modality} input")
        return (self.face_proj if modality == "face" else self.voice_proj)(x)

    def forward(self, face: torch.Tensor, voice: torch.Tensor) -> dict[str, torch.Tensor]:
        """Projections ``face``/``voice`` ``(B, dim)`` (unnormalised)."""
        if face is None or voice is None:
            raise ValueError("ContrastiveHead needs paired face and voice batches")
        return {"face": self.project(face, "face"), "voice": self.project(voice, "voice")}

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """L2-normalised projection ``(B, dim)``."""
        return F.normalize(self.project(x, modality), dim=1)
