"""Two frozen encoders (optionally with LoRA), projection heads and a learnable-temperature InfoNCE.

The encoders come from the facevoice encoder registry (``create_encoder``); their transformers
module is used with gradients through ``audio_forward`` / ``vision_forward`` and pooled exactly as in
frozen extraction (masked mean over valid frames for speech; pooler / CLS / patch mean for images,
at the encoder's configured layer).

The frozen encoders always run in inference mode (no dropout, layer drop or SpecAugment), also
while training: only LoRA dropout and the heads' dropout follow ``train()`` / ``eval()``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.encoders import create_encoder
from facevoice.encoders.hf.audio import audio_forward
from facevoice.encoders.hf.common import masked_mean, weighted_layer_sum
from facevoice.encoders.hf.vision import pool_tokens, vision_forward
from facevoice.finetune.lora import apply_lora
from facevoice.losses import create_loss

SETTINGS = ("none", "face", "voice", "both")


class EncoderBranch(nn.Module):
    """One modality's transformers encoder → pooled ``(B, H)``; LoRA-wrapped when ``lora`` is given.

    The encoder's module is deep-copied (``copy_model``) so that one built encoder can seed several
    runs: peft injects its layers into the module it wraps.
    """

    def __init__(self, encoder: Any, lora: Mapping[str, Any] | None = None, copy_model: bool = True) -> None:
        super().__init__()
        backbone = getattr(encoder, "backbone", None)
        if backbone is None:
            raise TypeError(f"{type(encoder).__name__} has no transformers backbone; fine-tuning needs an hf encoder")
        self.modality: str = encoder.modality
        self.family: str = backbone.family
        self.processor = backbone.processor
        self.sample_rate = getattr(encoder, "sample_rate", None)
        self.hidden_size = backbone.hidden_size
        self.layer = encoder.layer
        self.layer_weights = getattr(encoder, "layer_weights", None)
        self.pooling = getattr(encoder, "pooling", "mean")
        self.n_prefix = getattr(encoder, "n_prefix", 0)
        model = copy.deepcopy(backbone.model) if copy_model else backbone.model
        model.requires_grad_(False)
        self.has_lora = lora is not None
        self.model = apply_lora(model, **dict(lora)) if lora is not None else model

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Pooled ``(B, H)`` from voice ``{input_values (B, S), attention_mask (B, S)}`` or face
        ``{pixel_values (B, 3, H, W)}``."""

        if self.modality == "voice":
            fwd = audio_forward(self.model, inputs["input_values"], inputs["attention_mask"])
            if self.layer == "weighted":
                hidden = weighted_layer_sum(fwd.hidden_states, self.layer_weights)
            else:
                hidden = fwd.hidden_states[-1 if self.layer is None else self.layer]
            return masked_mean(hidden, fwd.frame_mask)

        out = vision_forward(self.model, inputs["pixel_values"])
        if self.pooling == "pooler":
            return out.pooler_output
        hidden = out.last_hidden_state if self.layer is None else out.hidden_states[self.layer]
        return pool_tokens(hidden, self.pooling, self.n_prefix)

    def train(self, mode: bool = True) -> EncoderBranch:
        super().train(mode)
        self.model.eval()
        for name, module in self.model.named_modules():
            if "lora_dropout" in name:
                module.train(mode)
        return self


class ProjectionHead(nn.Module):
    """``(B, d_in)`` → ``(B, d_out)``: Linear, or Linear → GELU → Dropout → Linear when ``hidden`` is set."""

    def __init__(self, d_in: int, d_out: int, hidden: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if hidden:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d_out)
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_in, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DualEncoder(nn.Module):
    """Voice and face branches + heads into a shared ``embed_dim`` space + InfoNCE (``self.loss``)."""

    def __init__(
        self,
        voice: EncoderBranch,
        face: EncoderBranch,
        embed_dim: int = 256,
        head_hidden: int | None = 512,
        head_dropout: float = 0.0,
        temperature: float = 0.07,
        learnable_temperature: bool = True,
        same_identity: str = "mask",
    ) -> None:
        super().__init__()
        if voice.modality != "voice" or face.modality != "face":
            raise ValueError(f"expected a voice and a face branch, got {voice.modality!r} and {face.modality!r}")
        self.voice, self.face = voice, face
        self.voice_head = ProjectionHead(voice.hidden_size, embed_dim, head_hidden, head_dropout)
        self.face_head = ProjectionHead(face.hidden_size, embed_dim, head_hidden, head_dropout)
        self.loss = create_loss(
            "infonce", temperature=temperature, learnable=learnable_temperature, same_identity=same_identity
        )

    def forward(
        self, voice_inputs: Mapping[str, torch.Tensor], face_inputs: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected (unnormalised) voice ``(B, D)`` and face ``(B, D)`` embeddings of a paired batch."""
        return self.voice_head(self.voice(voice_inputs)), self.face_head(self.face(face_inputs))

    def embed(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """L2-normalised shared-space embeddings ``(B, D)`` of one modality."""
        if modality == "voice":
            return F.normalize(self.voice_head(self.voice(inputs)), dim=-1)
        if modality == "face":
            return F.normalize(self.face_head(self.face(inputs)), dim=-1)
        raise ValueError(f"modality must be 'voice' or 'face', got {modality!r}")

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Detached copies of every trainable tensor (LoRA, heads, temperature), by parameter name."""
        return {n: p.detach().clone() for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Copy a :meth:`trainable_state` back in (names must match exactly)."""
        params = {n: p for n, p in self.named_parameters() if p.requires_grad}
        if set(params) != set(state):
            missing, extra = sorted(set(params) - set(state))[:3], sorted(set(state) - set(params))[:3]
            raise KeyError(f"trainable state mismatch: missing {missing}, unexpected {extra}")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state[n].to(p.device, p.dtype))


def build_encoders(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The registry encoders named by ``cfg["voice_encoder"]`` / ``cfg["face_encoder"]`` ({name, ...options})."""

    encoders = {}
    for modality in ("voice", "face"):
        if f"{modality}_encoder" not in cfg:
            raise ValueError(f"config has no {modality}_encoder section")
        enc_cfg = dict(cfg[f"{modality}_encoder"])
        name = enc_cfg.pop("name", None)
        if not name:
            raise ValueError(f"{modality}_encoder needs a registry name (e.g. wavlm, siglip)")
        encoder = create_encoder(name, **enc_cfg)
        if encoder.modality != modality:
            raise ValueError(f"{modality}_encoder {name!r} is a {encoder.modality} encoder")
        encoders[modality] = encoder
    return encoders


def build_dual_encoder(cfg: Mapping[str, Any], encoders: Mapping[str, Any] | None = None) -> DualEncoder:
    """Build from a finetune config: ``voice_encoder`` / ``face_encoder`` (registry name + options),
    ``lora`` ({setting, rank, alpha, dropout, targets, layers}, per-modality overrides under ``face`` /
    ``voice``) and ``model`` (embed_dim, head_hidden, head_dropout, temperature, ...).

    ``encoders`` (from :func:`build_encoders`) are reused without modification when given.
    """
    lora_cfg = dict(cfg.get("lora") or {})
    setting = str(lora_cfg.get("setting", "none"))
    if setting not in SETTINGS:
        raise ValueError(f"lora.setting must be one of {SETTINGS}, got {setting!r}")
    encoders = encoders if encoders is not None else build_encoders(cfg)
    branches = {
        m: EncoderBranch(encoders[m], lora_options(lora_cfg, m) if setting in (m, "both") else None)
        for m in ("voice", "face")
    }
    return DualEncoder(branches["voice"], branches["face"], **dict(cfg.get("model") or {}))


def lora_options(lora_cfg: Mapping[str, Any], modality: str) -> dict[str, Any]:
    """LoRA kwargs for one modality: shared keys overridden by ``lora_cfg[modality]`` if present."""
    shared = {k: v for k, v in lora_cfg.items() if k not in ("face", "voice", "setting")}
    shared.update(dict(lora_cfg.get(modality) or {}))
    allowed = {"rank", "alpha", "dropout", "targets", "layers"}
    unknown = sorted(set(shared) - allowed)
    if unknown:
        raise ValueError(f"unknown lora option(s) {unknown}; allowed: {sorted(allowed)}")
    return shared
