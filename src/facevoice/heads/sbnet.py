"""SBNet head (Saeed et al., ICASSP 2023): one branch shared by faces and voices.

``[Linear → BN → ReLU → Dropout(0.5)] × 2`` (d_in → 128 → 128) → L2-normalise → ``Linear(128, C)``.
``layers=1`` keeps only the first block (d_in → 128, the FOP-style branch some SBNet variants
use); ``hidden_dim`` sets the first block's width when it differs from ``dim`` (released
checkpoints of other widths). Both modalities pass through the same weights. When the two input
sizes differ, each modality first goes through its own linear *input adapter* to a common size
(the documented extension; ``adapter_dim`` defaults to the smaller input size). With
``adapter="auto"`` adapters exist only when the sizes differ; ``"always"`` forces them; ``"none"``
requires equal sizes.

A batch may hold one modality or both: both are adapted, concatenated and passed through the
branch in one pass (so batch norm sees the mixed batch), then split again. Linear layers:
Xavier-uniform weights, biases 0.01, as in the reference. Module names follow the reference
PyTorch code (``embed_branch.fc1``, ``embed_branch.fc2``, ``logits_layer``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.heads.layers import check_input, check_modality, fc_block, init_linear_
from facevoice.heads.registry import HEADS

ADAPTER_MODES = ("auto", "always", "none")


BRANCH_LAYERS = (1, 2)


class SBNetBranch(nn.Module):
    """One or two fc blocks then L2 normalisation: ``(N, d_in) -> (N, dim)``.

    Two blocks: ``fc1`` d_in → ``hidden_dim`` (default ``dim``), ``fc2`` → ``dim``; one block: ``fc1`` d_in → ``dim``.
    """

    def __init__(self, d_in: int, dim: int, dropout: float, layers: int = 2, hidden_dim: int | None = None) -> None:
        super().__init__()
        if layers not in BRANCH_LAYERS:
            raise ValueError(f"SBNet branch layers must be one of {BRANCH_LAYERS}, got {layers!r}")
        if layers == 1 and hidden_dim not in (None, dim):
            raise ValueError(f"a one-layer SBNet branch has no hidden width (hidden_dim={hidden_dim}, dim={dim})")
        hidden = int(hidden_dim or dim)
        self.fc1 = fc_block(d_in, hidden if layers == 2 else dim, dropout)
        self.fc2 = fc_block(hidden, dim, dropout) if layers == 2 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if self.fc2 is not None:
            h = self.fc2(h)
        return F.normalize(h, p=2, dim=1)


@HEADS.register("sbnet")
class SBNetHead(nn.Module):
    """Single-branch head shared by both modalities.

    Args:
        d_face, d_voice: input sizes; n_classes: training identities.
        dim: branch width and embedding size (128).
        dropout: dropout of both blocks (0.5).
        adapter: ``"auto"``, ``"always"`` or ``"none"`` (see module docstring).
        adapter_dim: common size the adapters map to (default: ``min(d_face, d_voice)``).
        layers: fc blocks in the shared branch (2, or 1).
        hidden_dim: width of the first of two blocks (default: ``dim``).
    """

    def __init__(
        self,
        d_face: int,
        d_voice: int,
        n_classes: int,
        dim: int = 128,
        dropout: float = 0.5,
        adapter: str = "auto",
        adapter_dim: int | None = None,
        layers: int = 2,
        hidden_dim: int | None = None,
    ) -> None:
        super().__init__()
        if adapter not in ADAPTER_MODES:
            raise ValueError(f"SBNet adapter must be one of {ADAPTER_MODES}, got {adapter!r}")
        if adapter == "none" and d_face != d_voice:
            raise ValueError(f"SBNet adapter='none' needs equal input sizes, got face {d_face} and voice {d_voice}")
        self.d_face, self.d_voice, self.dim = int(d_face), int(d_voice), int(dim)
        use = adapter == "always" or (adapter == "auto" and d_face != d_voice)
        d_common = int(adapter_dim or min(d_face, d_voice)) if use else int(d_face)
        self.face_adapter = nn.Linear(d_face, d_common) if use else nn.Identity()
        self.voice_adapter = nn.Linear(d_voice, d_common) if use else nn.Identity()
        self.embed_branch = SBNetBranch(d_common, dim, dropout, layers, hidden_dim)
        self.logits_layer = nn.Linear(dim, n_classes)
        init_linear_(self, bias=0.01)

    def _adapt(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        d = self.d_face if modality == "face" else self.d_voice
        check_input(x, d, f"SBNetHead {modality} input")
        return (self.face_adapter if modality == "face" else self.voice_adapter)(x)

    def forward(self, face: torch.Tensor | None = None, voice: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Embeddings ``(B_m, dim)`` and logits ``(B_m, C)`` of each modality given.

        Keys: ``face``, ``face_logits``, ``voice``, ``voice_logits`` (only for the modalities passed).
        """
        parts = [(m, x) for m, x in (("face", face), ("voice", voice)) if x is not None]
        if not parts:
            raise ValueError("SBNetHead needs a face or a voice batch")
        h = torch.cat([self._adapt(x, m) for m, x in parts], dim=0)
        emb = self.embed_branch(h)
        logits = self.logits_layer(emb)
        out: dict[str, torch.Tensor] = {}
        start = 0
        for m, x in parts:
            out[m], out[f"{m}_logits"] = emb[start : start + len(x)], logits[start : start + len(x)]
            start += len(x)
        return out

    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        """Scoring embeddings ``(B, dim)`` (L2-normalised branch output), for cross- and unimodal trials."""
        check_modality(modality)
        return self.embed_branch(self._adapt(x, modality))
