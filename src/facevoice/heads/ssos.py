"""SSoS heads ("Seeking the Shape of Sound", Wen et al., CVPR 2021) on cached embeddings.

Per modality: ``BN(d) → ReLU → Linear(d, 128, bias=False) → Dropout(0.5)``; outputs are not
normalised. One classifier ``W`` (n_classes × 128, Xavier-uniform, no bias) is shared by both
modalities (implicit alignment): ``logits = z Wᵀ``. The original trains face and voice backbones
end to end; on cached embeddings only these heads and ``W`` train.
"""

from __future__ import annotations

import torch
from torch import nn

from facevoice.heads.layers import check_input, check_modality
from facevoice.heads.registry import HEADS


def _ssos_head(d_in: int, dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(d_in), nn.ReLU(), nn.Linear(d_in, dim, bias=False), nn.Dropout(dropout))


@HEADS.register("ssos")
class SSoSHead(nn.Module):
    """Face and voice heads plus the shared classifier.

    Args:
        d_face, d_voice: input sizes; n_classes: training identities.
        dim: embedding size (128); dropout: head dropout (0.5).
    """

    def __init__(self, d_face: int, d_voice: int, n_classes: int, dim: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        self.d_face, self.d_voice, self.dim = int(d_face), int(d_voice), int(dim)
        self.face_head = _ssos_head(d_face, dim, dropout)
        self.voice_head = _ssos_head(d_voice, dim, dropout)
        self.classifier = nn.Parameter(torch.empty(n_classes, dim))
        nn.init.xavier_uniform_(self.classifier)

    def reset_parameters(self) -> None:
        """Re-initialise every weight (SSoS stage 2 retrains from scratch)."""
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        nn.init.xavier_uniform_(self.classifier)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """Shared-classifier logits ``(B, C)`` of embeddings ``(B, dim)``."""
        return z @ self.classifier.T

    def forward(self, face: torch.Tensor, voice: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embeddings ``face``/``voice`` ``(B, dim)`` and their logits ``face_logits``/``voice_logits`` ``(B, C)``."""
        if face is None or voice is None:
            raise ValueError("SSoSHead needs paired face and voice batches")
        zf, zv = self.embed(face, "face"), self.embed(voice, "voice")
        return {"face": zf, "voice": zv, "face_logits": self.logits(zf), "voice_logits": self.logits(zv)}

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Head output ``(B, dim)`` (not normalised; scores are cosines)."""
        check_modality(modality)
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"SSoSHead {modality} input")
        return (self.face_head if modality == "face" else self.voice_head)(x)
