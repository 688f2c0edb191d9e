"""Slow, obvious reference: the official FOP checkpoint's layers applied by hand from its raw tensors.

Eval-mode semantics of the original model: Linear → BatchNorm1d (running statistics) → ReLU →
(Dropout: identity) → L2 normalisation per branch; the gate Linear(256,128) → BN → ReLU →
Linear(128,128) → sigmoid; fused = a·tanh(f) + (1-a)·tanh(v); logits = Linear(128, C)(fused).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _bn(x, sd, p, eps=1e-5):
    return (x - sd[p + "running_mean"]) / torch.sqrt(sd[p + "running_var"] + eps) * sd[p + "weight"] + sd[p + "bias"]


def _branch(x, sd, name):
    h = x @ sd[f"{name}.fc1.0.weight"].T + sd[f"{name}.fc1.0.bias"]
    h = torch.relu(_bn(h, sd, f"{name}.fc1.1."))
    return h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)


def fop_reference_branches(sd: dict, face: torch.Tensor, voice: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two branch outputs (L2-normalised, before any tanh) of an FOP checkpoint of either fusion."""
    return _branch(face, sd, "face_branch"), _branch(voice, sd, "voice_branch")


def fop_reference_forward(sd: dict, face: torch.Tensor, voice: torch.Tensor) -> dict:
    """Branch outputs, gate, fused vector and logits of a gated-fusion FOP checkpoint (eval mode)."""
    f, v = _branch(face, sd, "face_branch"), _branch(voice, sd, "voice_branch")
    h = (
        torch.cat([f, v], 1) @ sd["fusion_layer.attention.0.block.0.weight"].T
        + sd["fusion_layer.attention.0.block.0.bias"]
    )
    h = torch.relu(_bn(h, sd, "fusion_layer.attention.0.block.1."))
    a = torch.sigmoid(h @ sd["fusion_layer.attention.1.weight"].T + sd["fusion_layer.attention.1.bias"])
    fused = a * torch.tanh(f) + (1 - a) * torch.tanh(v)
    logits = fused @ sd["logits_layer.weight"].T + sd["logits_layer.bias"]
    return {"face": torch.tanh(f), "voice": torch.tanh(v), "fused": fused, "logits": logits, "f_raw": f, "v_raw": v}


def functional_forward(sd: dict, face: torch.Tensor, voice: torch.Tensor) -> dict:
    """The same computation with torch.nn.functional ops (the ops nn.Linear / nn.BatchNorm1d call)."""

    def branch(x, name):
        h = F.linear(x, sd[f"{name}.fc1.0.weight"], sd[f"{name}.fc1.0.bias"])
        p = f"{name}.fc1.1."
        h = F.batch_norm(h, sd[p + "running_mean"], sd[p + "running_var"], sd[p + "weight"], sd[p + "bias"], False)
        return F.normalize(F.relu(h), p=2, dim=1)

    f, v = branch(face, "face_branch"), branch(voice, "voice_branch")
    p = "fusion_layer.attention."
    h = F.linear(torch.cat([f, v], 1), sd[p + "0.block.0.weight"], sd[p + "0.block.0.bias"])
    q = p + "0.block.1."
    h = F.relu(F.batch_norm(h, sd[q + "running_mean"], sd[q + "running_var"], sd[q + "weight"], sd[q + "bias"], False))
    a = torch.sigmoid(F.linear(h, sd[p + "1.weight"], sd[p + "1.bias"]))
    tf, tv = torch.tanh(f), torch.tanh(v)
    fused = a * tf + (1.0 - a) * tv
    return {
        "face": tf,
        "voice": tv,
        "fused": fused,
        "logits": F.linear(fused, sd["logits_layer.weight"], sd["logits_layer.bias"]),
    }
