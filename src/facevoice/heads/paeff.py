"""PAEFF head (Hannan et al., Interspeech 2025): hyperbolic alignment + enhanced gated fusion.

Branch per modality: ``Linear(d_in, 256) → BN → ReLU → Dropout(0.4) → Linear(256, 256) → L2-normalise``.
Both branch outputs are mapped to the Poincaré ball of curvature ``-c`` (c = 0.05) with geoopt's
``expmap0`` and their norm clipped to ``(1 − 1e-3)/√c`` (the alignment loss works on these points).

EGFF (``fusion="egff"``): ``x̂_f = GELU(f)``, ``x̂_v = GELU(v)``, ``a = σ(Conv1d(1,1,5,pad 2)(g))``,
``x = a ⊙ x̂_f + (1 − a) ⊙ x̂_v``, ``fused = tanh(Linear(256, 256)(x))``, ``logits = Linear(256, C)(fused)``.
The gate input ``g`` is the attention variant of the paper's ablation: ``"mult"`` ``x̂_f ⊙ x̂_v``
(default), ``"add"`` ``x̂_f + x̂_v``, ``"concat"`` ``[x̂_f; x̂_v]`` stacked as two channels of a
``Conv1d(2, 1, 5, pad 2)``. ``mix="raw"`` mixes the non-activated ``f`` and ``v`` as the reference
code does (METHODS.md §5). ``fusion="gated"`` is the ablation baseline: FOP's gated fusion
(MLP gate on ``[f; v]``, ``a ⊙ tanh(f) + (1 − a) ⊙ tanh(v)``).

Test embeddings: GELU(branch output) under EGFF, tanh(branch output) under the gated baseline.
Module names follow the reference (``{face,voice}_branch.fc1``, ``fusion_layer.conv``, ``res_mix``,
``logits_layer``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from geoopt.manifolds.stereographic import math as stereo
from torch import nn

from facevoice.heads.fop import GatedFusion
from facevoice.heads.layers import check_input, check_modality, init_linear_
from facevoice.heads.registry import HEADS

ATTENTIONS = ("mult", "add", "concat")
MIXES = ("activated", "raw")
PAEFF_FUSIONS = ("egff", "gated")


def to_poincare(u: torch.Tensor, c: float, eps: float = 1e-3) -> torch.Tensor:
    """Map tangent vectors at the origin ``(B, D)`` onto the ball (geoopt ``expmap0``), norm ≤ ``(1 − eps)/√c``."""
    k = torch.tensor(-c, dtype=u.dtype, device=u.device)
    # geoopt's maths is TorchScript: after two warm-up calls the executor switches to an optimised
    # graph (with its own autodiff) whose results differ in the last bits, so a cold process (a resumed
    # run) and a warm one would not compute the same step. Unoptimised execution is the same every call.
    with torch.jit.optimized_execution(False):
        x = stereo.expmap0(u, k=k)
    max_norm = (1.0 - eps) / math.sqrt(c)
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return torch.where(norm > max_norm, x / norm * max_norm, x)


class PAEFFBranch(nn.Module):
    """``fc1 = [Linear, BN, ReLU, Dropout, Linear]`` then L2 normalisation: ``(B, d_in) -> (B, dim)``."""

    def __init__(self, d_in: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Sequential(
            nn.Linear(d_in, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc1(x), p=2, dim=1)


class EGFF(nn.Module):
    """Enhanced gated feature fusion; returns ``(x, GELU(f), GELU(v))`` before the residual mix."""

    def __init__(self, attention: str = "mult", mix: str = "activated", kernel_size: int = 5) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"EGFF attention must be one of {ATTENTIONS}, got {attention!r}")
        if mix not in MIXES:
            raise ValueError(f"EGFF mix must be one of {MIXES}, got {mix!r}")
        self.attention, self.mix = attention, mix
        in_channels = 2 if attention == "concat" else 1
        self.conv = nn.Conv1d(in_channels, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, f: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ff, vf = F.gelu(f), F.gelu(v)
        if self.attention == "mult":
            g = (ff * vf)[:, None, :]
        elif self.attention == "add":
            g = (ff + vf)[:, None, :]
        else:
            g = torch.stack([ff, vf], dim=1)
        a = torch.sigmoid(self.conv(g)).squeeze(1)
        x = a * ff + (1.0 - a) * vf if self.mix == "activated" else a * f + (1.0 - a) * v
        return x, ff, vf


@HEADS.register("paeff")
class PAEFFHead(nn.Module):
    """Two branches, Poincaré-ball projections, EGFF (or the gated baseline) and a classifier.

    Args:
        d_face, d_voice: input sizes; n_classes: training identities.
        dim: branch / fusion width (256); dropout: branch dropout (0.4).
        c: ball curvature magnitude (0.05); ball_eps: norm clip margin (1e-3).
        fusion: ``"egff"`` or ``"gated"`` (baseline); attention, mix: EGFF variants (see module docstring).
        attention_dim: hidden size of the gated baseline's gate (128).
    """

    def __init__(
        self,
        d_face: int,
        d_voice: int,
        n_classes: int,
        dim: int = 256,
        dropout: float = 0.4,
        c: float = 0.05,
        ball_eps: float = 1e-3,
        fusion: str = "egff",
        attention: str = "mult",
        mix: str = "activated",
        attention_dim: int = 128,
    ) -> None:
        super().__init__()
        if fusion not in PAEFF_FUSIONS:
            raise ValueError(f"PAEFF fusion must be one of {PAEFF_FUSIONS}, got {fusion!r}")
        if c <= 0:
            raise ValueError(f"ball curvature c must be > 0, got {c}")
        self.d_face, self.d_voice, self.dim = int(d_face), int(d_voice), int(dim)
        self.c, self.ball_eps, self.fusion = float(c), float(ball_eps), fusion
        self.voice_branch = PAEFFBranch(d_voice, dim, dropout)
        self.face_branch = PAEFFBranch(d_face, dim, dropout)
        if fusion == "egff":
            self.fusion_layer: nn.Module = EGFF(attention, mix)
            self.res_mix = nn.Linear(dim, dim)
        else:
            self.fusion_layer = GatedFusion(dim, attention_dim)
        self.logits_layer = nn.Linear(dim, n_classes)
        init_linear_(self, bias=0.01)

    def forward(self, face: torch.Tensor, voice: torch.Tensor) -> dict[str, torch.Tensor]:
        """Branch outputs ``face``/``voice``, ball points ``*_ball``, activated ``*_act``, ``fused`` ``(B, dim)``;
        ``logits`` ``(B, C)``."""
        if face is None or voice is None:
            raise ValueError("PAEFFHead needs paired face and voice batches")
        check_input(face, self.d_face, "PAEFFHead face input")
        check_input(voice, self.d_voice, "PAEFFHead voice input")
        f, v = self.face_branch(face), self.voice_branch(voice)
        x, f_act, v_act = self.fusion_layer(f, v)
        fused = torch.tanh(self.res_mix(x)) if self.fusion == "egff" else x
        return {
            "face": f,
            "voice": v,
            "face_ball": to_poincare(f, self.c, self.ball_eps),
            "voice_ball": to_poincare(v, self.c, self.ball_eps),
            "face_act": f_act,
            "voice_act": v_act,
            "fused": fused,
            "logits": self.logits_layer(fused),
        }

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Scoring embeddings ``(B, dim)``: GELU(branch) under EGFF, tanh(branch) under the gated baseline."""
        check_modality(modality)
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"PAEFFHead {modality} input")
        z = (self.face_branch if modality == "face" else self.voice_branch)(x)
        return F.gelu(z) if self.fusion == "egff" else torch.tanh(z)
