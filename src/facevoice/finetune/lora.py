"""LoRA (peft) on the transformer layers of the registered encoder families.

Where the LoRA-able layers sit in each family is the ``lora`` field of its entry in the family table
(:mod:`facevoice.encoders.hf.families`); this module turns it into peft targets.

Targets are given as *roles* (``q``, ``k``, ``v``, ``o``, ``ffn_in``, ``ffn_out``), a preset
(``qv``, ``qkv``, ``attn``, ``ffn``, ``all``) or literal leaf module names; they are turned into one
peft regex restricted to the encoder's transformer layers, so that look-alike modules elsewhere
(SigLIP's attention-pooling head holds an ``nn.MultiheadAttention`` whose ``out_proj`` weight is
read raw and would never train) are not wrapped.

WavLM trap: transformers' ``WavLMAttention`` calls ``F.multi_head_attention_forward`` with the raw
``q_proj/k_proj/v_proj/out_proj`` weights, bypassing the modules, so LoRA wrappers on them receive
no gradient. :func:`route_wavlm_attention` swaps those layers' class for a subclass whose attention
calls the projection *modules* (numerically the same computation; tested against the original).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facevoice.encoders.hf.families import LORA_LAYOUTS

ROLES = ("q", "k", "v", "o", "ffn_in", "ffn_out")
PRESETS: dict[str, tuple[str, ...]] = {
    "qv": ("q", "v"),
    "qkv": ("q", "k", "v"),
    "attn": ("q", "k", "v", "o"),
    "ffn": ("ffn_in", "ffn_out"),
    "all": ROLES,
}


def model_family(model: nn.Module) -> str:
    """The transformers ``model_type`` of ``model`` (unwrapping peft), one with a LoRA layout in the family table."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    family = getattr(config, "model_type", None)
    if family not in LORA_LAYOUTS:
        raise ValueError(f"no LoRA layout for model_type {family!r}; supported: {sorted(LORA_LAYOUTS)}")
    return family


def target_regex(family: str, targets: str | Sequence[str] = "qv", layers: Sequence[int] | None = None) -> str:
    """peft ``target_modules`` regex for ``targets`` (preset, roles or leaf names) in ``layers`` (all if None)."""
    if family not in LORA_LAYOUTS:
        raise ValueError(f"no LoRA layout for model_type {family!r}; supported: {sorted(LORA_LAYOUTS)}")
    layout = LORA_LAYOUTS[family]
    if isinstance(targets, str):
        if targets not in PRESETS:
            raise ValueError(f"unknown LoRA target preset {targets!r}; presets: {sorted(PRESETS)}, or a list of roles")
        targets = PRESETS[targets]
    if not targets:
        raise ValueError("LoRA targets are empty")
    paths = []
    for t in targets:
        if t in layout.roles:
            paths.append(re.escape(layout.roles[t]))
        elif re.fullmatch(r"[A-Za-z0-9_.]+", t):  # a literal path inside a layer, e.g. "attention.q_proj"
            paths.append(r"(?:.*\.)?" + re.escape(t))
        else:
            raise ValueError(f"bad LoRA target {t!r}: use roles {ROLES}, presets {sorted(PRESETS)} or module names")
    idx = r"\d+" if layers is None else "|".join(str(int(i)) for i in layers)
    return rf"(?:.*\.)?{layout.layers}\.(?:{idx})\.(?:{'|'.join(paths)})"


def apply_lora(
    model: nn.Module,
    rank: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
    targets: str | Sequence[str] = "qv",
    layers: Sequence[int] | None = None,
) -> nn.Module:
    """Wrap ``model`` (a transformers encoder) in a peft ``PeftModel`` with LoRA on the chosen layers.

    Every base weight is frozen by peft; only ``lora_A`` / ``lora_B`` train. WavLM attention is
    rerouted first (see :func:`route_wavlm_attention`). Raises if the targets match nothing.
    """
    from peft import LoraConfig, get_peft_model

    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    family = model_family(model)
    regex = target_regex(family, targets, layers)
    matched = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and re.fullmatch(regex, n)]
    if not matched:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][:8]
        raise ValueError(f"LoRA targets {targets!r} (layers {layers}) match no linear layer of {family}; e.g. {linear}")
    if family == "wavlm":
        route_wavlm_attention(model)
    config = LoraConfig(r=int(rank), lora_alpha=float(alpha), lora_dropout=float(dropout), target_modules=regex)
    return get_peft_model(model, config)


def lora_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Name -> parameter of every LoRA weight in ``model``."""
    return {n: p for n, p in model.named_parameters() if "lora_" in n}


def missing_lora_gradients(model: nn.Module) -> list[str]:
    """Names of LoRA parameters whose ``.grad`` is None after a backward pass (should be empty)."""
    return [n for n, p in lora_parameters(model).items() if p.requires_grad and p.grad is None]


def route_wavlm_attention(model: nn.Module) -> int:
    """Make every ``WavLMAttention`` in ``model`` call its q/k/v/out projection modules; returns the count."""
    from transformers.models.wavlm.modeling_wavlm import WavLMAttention

    cls = _projected_wavlm_attention_class()
    n = 0
    for module in model.modules():
        if type(module) is WavLMAttention:
            module.__class__ = cls
            n += 1
    return n


_PROJECTED_CLASS: list[type] = []


def _projected_wavlm_attention_class() -> type:
    if _PROJECTED_CLASS:
        return _PROJECTED_CLASS[0]
    from transformers.models.wavlm.modeling_wavlm import WavLMAttention

    class ProjectedWavLMAttention(WavLMAttention):
        """WavLM attention through ``self.q_proj(...)`` etc. so that wrapped (LoRA) modules take part."""

        def torch_multi_head_self_attention(
            self, hidden_states: torch.Tensor, attention_mask: Any, gated_position_bias: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return _projected_attention(self, hidden_states, attention_mask, gated_position_bias)

    _PROJECTED_CLASS.append(ProjectedWavLMAttention)
    return ProjectedWavLMAttention


def _projected_attention(
    attn: nn.Module, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Same maths as ``F.multi_head_attention_forward`` in WavLM: ``hidden (B, T, H)``, ``bias (B*heads, T, T)``.

    Returns ``(output (B, T, H), weights (B, heads, T, T))``, the weights averaged over heads and
    broadcast as the original does.
    """
    bsz, tgt, embed = hidden_states.shape
    heads, head_dim = attn.num_heads, attn.head_dim

    def split(x: torch.Tensor) -> torch.Tensor:  # (B, T, H) -> (B*heads, T, head_dim), batch-major like torch
        return x.view(bsz, tgt, heads, head_dim).transpose(1, 2).reshape(bsz * heads, tgt, head_dim)

    q = split(attn.q_proj(hidden_states)) * (1.0 / math.sqrt(head_dim))
    k = split(attn.k_proj(hidden_states))
    v = split(attn.v_proj(hidden_states))
    scores = torch.baddbmm(bias.to(q.dtype), q, k.transpose(1, 2))
    if attention_mask is not None:
        pad = attention_mask.ne(1).view(bsz, 1, 1, tgt).expand(bsz, heads, 1, tgt).reshape(bsz * heads, 1, tgt)
        scores = scores.masked_fill(pad, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    probs = F.dropout(weights, p=attn.dropout, training=attn.training) if attn.dropout > 0 else weights
    out = torch.bmm(probs, v).view(bsz, heads, tgt, head_dim).transpose(1, 2).reshape(bsz, tgt, embed)
    out = attn.out_proj(out)
    avg = weights.view(bsz, heads, tgt, tgt).mean(dim=1)
    return out, avg[:, None].expand(bsz, heads, tgt, tgt)
