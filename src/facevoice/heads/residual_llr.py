"""Residual front-ends with a Gaussian log-likelihood-ratio head (facevoice's ``xplda``).

Each modality's input (e.g. PCA coordinates) goes through a residual MLP
``x + W2 GELU(W1 x)`` whose last layer starts at zero, so the untrained front-end is the identity map.
The head projects each side to ``k`` canonical coordinates and scores a face-voice pair by the LLR
of "same person" under a Gaussian with per-coordinate correlation ``rho = sigmoid(logit)``
(a two-covariance model with unit marginal variances)::

    LLR(a, b) = sum_k [ -1/2 log(1 - rho^2) - rho^2 (a^2 + b^2) / (2 (1 - rho^2)) + rho a b / (1 - rho^2) ]

Coordinates whose logit sits at ``DEAD_LOGIT`` (rho ~ 2e-9) contribute nothing until training moves them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facevoice.heads.layers import check_input, check_modality
from facevoice.heads.registry import HEADS

DEAD_LOGIT = -20.0  # correlation logit of components the initial fit does not use (rho ~ 2e-9)


class ResidualFrontEnd(nn.Module):
    """``(B, d) -> (B, d)``: ``x + Linear(GELU(Linear(x)))`` with dropout; zero at start (identity map)."""

    def __init__(self, d: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


@HEADS.register("residual_llr")
class ResidualLLRHead(nn.Module):
    """Face and voice front-ends ``(B, D_m) -> (B, D_m)`` and the LLR head over ``k`` canonical coordinates.

    ``forward(face (B, Df), voice (B, Dv))`` gives ``{"face", "voice"}`` (front-end outputs) and, with both,
    ``"pair_scores" (B, B)``: the LLR of every face row against every voice row. :meth:`frontend` is a
    modality's front-end (what ``xplda`` fits its back-end on); :meth:`embed` the canonical coordinates
    ``(B, k)``. The projections start small and random (``xplda`` replaces them by a closed-form fit).
    """

    def __init__(
        self, d_face: int, d_voice: int, n_classes: int, hidden: int = 256, dropout: float = 0.1, k: int = 8
    ) -> None:
        super().__init__()
        self.d_face, self.d_voice = int(d_face), int(d_voice)
        self.face_frontend = ResidualFrontEnd(self.d_face, int(hidden), float(dropout))
        self.voice_frontend = ResidualFrontEnd(self.d_voice, int(hidden), float(dropout))
        self.face_proj = nn.Parameter(torch.randn(self.d_face, int(k)) / self.d_face**0.5)
        self.voice_proj = nn.Parameter(torch.randn(self.d_voice, int(k)) / self.d_voice**0.5)
        self.rho_logit = nn.Parameter(torch.full((int(k),), DEAD_LOGIT))

    def frontend(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Front-end output ``(B, D_modality)``."""
        check_modality(modality)
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"residual_llr {modality} input")
        return (self.face_frontend if modality == "face" else self.voice_frontend)(x)

    def rho(self) -> torch.Tensor:
        return torch.sigmoid(self.rho_logit).clamp(max=1.0 - 1e-6)

    def init_from(self, proj: dict[str, np.ndarray], rho: np.ndarray) -> None:
        """Copy a closed-form fit (``proj[m] (d, k0)``, ``rho (k0,)``, k0 <= k); unused columns stay dead."""
        k0 = min(len(rho), self.rho_logit.shape[0])
        with torch.no_grad():
            for m in ("face", "voice"):
                p = getattr(self, f"{m}_proj")
                p.zero_()
                p[:, :k0] = torch.as_tensor(proj[m][:, :k0], dtype=p.dtype)
            r = torch.as_tensor(np.clip(rho[:k0], 1e-6, 1 - 1e-6), dtype=self.rho_logit.dtype)
            self.rho_logit.fill_(DEAD_LOGIT)
            self.rho_logit[:k0] = torch.log(r) - torch.log1p(-r)

    def llr_matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """LLR ``(B, B)`` of canonical coordinates ``a``, ``b (B, k)`` (every face row x every voice row)."""
        r = self.rho()
        r2 = r * r
        c = 1.0 / (2.0 * (1.0 - r2))
        qa = (a * a * (r2 * c)).sum(1)
        qb = (b * b * (r2 * c)).sum(1)
        return -0.5 * torch.log1p(-r2).sum() - qa[:, None] - qb[None, :] + (a * (2.0 * r * c)) @ b.T

    def forward(self, face: torch.Tensor | None, voice: torch.Tensor | None) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if face is not None:
            out["face"] = self.face_frontend(face)
        if voice is not None:
            out["voice"] = self.voice_frontend(voice)
        if face is not None and voice is not None:
            out["pair_scores"] = self.llr_matrix(out["face"] @ self.face_proj, out["voice"] @ self.voice_proj)
        return out

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Canonical coordinates ``(B, k)`` of one modality."""
        return self.frontend(x, modality) @ (self.face_proj if modality == "face" else self.voice_proj)
