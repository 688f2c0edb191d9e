"""FOP head (Saeed et al., ICASSP 2022): two branches, linear or gated fusion, identity classifier.

Branch per modality: ``Linear(d_in, 128) → BN → ReLU → Dropout(0.5) → L2-normalise``.

* linear fusion: ``w1·f + w2·v`` with scalar weights drawn from U(0, 1);
* gated fusion: ``a = σ(Linear(128,128)(ReLU(BN(Linear(256,128)([f; v])))))``,
  ``fused = a ⊙ tanh(f) + (1 − a) ⊙ tanh(v)``.

``logits = Linear(128, n_classes)(fused)``. Linear layers: Xavier-uniform weights, biases 0.01.
Test embeddings are the branch outputs (tanh'ed under gated fusion).

Module names follow the official checkpoint so its ``state_dict`` loads with ``strict=True``:
``{face,voice}_branch.fc1.{0: Linear, 1: BN}``,
``fusion_layer.attention.{0.block.0: Linear(256,128), 0.block.1: BN, 1: Linear(128,128)}``,
``logits_layer``; the linear fusion's scalars are ``fusion_layer.weight1`` / ``weight2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.heads.layers import check_input, check_modality, fc_block, init_linear_
from facevoice.heads.registry import HEADS

FUSIONS = ("gated", "linear")


class FOPBranch(nn.Module):
    """``fc1 = [Linear, BN, ReLU, Dropout]`` then L2 normalisation: ``(B, d_in) -> (B, dim)``."""

    def __init__(self, d_in: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = fc_block(d_in, dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc1(x), p=2, dim=1)


class ForwardBlock(nn.Module):
    """``block = [Linear, BN, ReLU, Dropout(p)]`` (the gate's hidden layer)."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.block = fc_block(d_in, d_out, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class GatedFusion(nn.Module):
    """Gate from ``[f; v]``; returns ``(fused, tanh(f), tanh(v))``, each ``(B, dim)``."""

    def __init__(self, dim: int, attention_dim: int = 128) -> None:
        super().__init__()
        self.attention = nn.Sequential(ForwardBlock(2 * dim, attention_dim), nn.Linear(attention_dim, dim))

    def forward(self, f: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = torch.sigmoid(self.attention(torch.cat([f, v], dim=1)))
        tf, tv = torch.tanh(f), torch.tanh(v)
        return a * tf + (1.0 - a) * tv, tf, tv


class LinearFusion(nn.Module):
    """``w1·f + w2·v`` with learnable scalars initialised U(0, 1); returns ``(fused, f, v)``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight1 = nn.Parameter(torch.rand(1))
        self.weight2 = nn.Parameter(torch.rand(1))

    def forward(self, f: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.weight1 * f + self.weight2 * v, f, v


@HEADS.register("fop")
class FOPHead(nn.Module):
    """Two-branch FOP head.

    Args:
        d_face, d_voice: input sizes (4096 VGGFace fc7 and 512 utterance features in the paper).
        n_classes: training identities.
        fusion: ``"gated"`` or ``"linear"``.
        dim: branch / embedding size (128).
        dropout: branch dropout (0.5).
        attention_dim: hidden size of the gate (128).
    """

    def __init__(
        self,
        d_face: int,
        d_voice: int,
        n_classes: int,
        fusion: str = "gated",
        dim: int = 128,
        dropout: float = 0.5,
        attention_dim: int = 128,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"FOP fusion must be one of {FUSIONS}, got {fusion!r}")
        self.d_face, self.d_voice, self.fusion, self.dim = int(d_face), int(d_voice), fusion, int(dim)
        self.voice_branch = FOPBranch(d_voice, dim, dropout)
        self.face_branch = FOPBranch(d_face, dim, dropout)
        self.fusion_layer = GatedFusion(dim, attention_dim) if fusion == "gated" else LinearFusion()
        self.logits_layer = nn.Linear(dim, n_classes)
        init_linear_(self, bias=0.01)

    def forward(self, face: torch.Tensor, voice: torch.Tensor) -> dict[str, torch.Tensor]:
        """``face (B, Df)``, ``voice (B, Dv)`` → face/voice embeddings, fused ``(B, dim)``, logits ``(B, C)``."""
        if face is None or voice is None:
            raise ValueError("FOPHead needs paired face and voice batches")
        check_input(face, self.d_face, "FOPHead face input")
        check_input(voice, self.d_voice, "FOPHead voice input")
        fused, f, v = self.fusion_layer(self.face_branch(face), self.voice_branch(voice))
        return {"face": f, "voice": v, "fused": fused, "logits": self.logits_layer(fused)}

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Scoring embeddings ``(B, dim)``: branch output, tanh'ed under gated fusion."""
        check_modality(modality)
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"FOPHead {modality} input")
        z = (self.face_branch if modality == "face" else self.voice_branch)(x)
        return torch.tanh(z) if self.fusion == "gated" else z
