"""The FOP checkpoint format (Saeed et al., ICASSP 2022; the FAME / MAV-Celeb baseline releases).

Two branches ``{face,voice}_branch.fc1.{0: Linear, 1: BatchNorm1d}`` of one width, a fusion layer,
``logits_layer``. Gated fusion: ``fusion_layer.attention.{0.block.0: Linear(2·dim, A),
0.block.1: BatchNorm1d(A), 1: Linear(A, dim)}``; linear fusion: scalars ``fusion_layer.weight1`` /
``weight2``. Every size (inputs, width, gate width, classes) is read from the tensors; the layout
is :class:`facevoice.heads.fop.FOPHead`'s, checked key by key and shape by shape.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from facevoice.heads.fop import FOPHead
from facevoice.interop.checkpoints.layout import FormatMismatch, Recognised, tensor

GATE = "fusion_layer.attention."


def recognise_fop(sd: Mapping[str, torch.Tensor]) -> Recognised:
    """Sizes and fusion of an FOP checkpoint (raises :class:`FormatMismatch` when it is not one)."""
    face = tensor(sd, "face_branch.fc1.0.weight", 2)
    voice = tensor(sd, "voice_branch.fc1.0.weight", 2)
    logits = tensor(sd, "logits_layer.weight", 2)
    dim = int(face.shape[0])
    if voice.shape[0] != dim:
        raise FormatMismatch(f"face branch width {dim} != voice branch width {voice.shape[0]}")
    if any(k.startswith(GATE) for k in sd):
        fusion, attention_dim = "gated", int(tensor(sd, GATE + "0.block.0.weight", 2).shape[0])
    elif "fusion_layer.weight1" in sd:
        fusion, attention_dim = "linear", None
    else:
        raise FormatMismatch("no gated (fusion_layer.attention.*) or linear (fusion_layer.weight1) fusion layer")
    d_face, d_voice, n_classes = int(face.shape[1]), int(voice.shape[1]), int(logits.shape[0])
    hparams: dict = {"fusion": fusion, "dim": dim}
    if attention_dim is not None:
        hparams["attention_dim"] = attention_dim
    details = {"fusion": fusion, "dim": dim, **({"attention_dim": attention_dim} if attention_dim else {})}
    return Recognised(
        format="fop",
        method="fop",
        head_class=FOPHead,
        d_face=d_face,
        d_voice=d_voice,
        n_classes=n_classes,
        hparams=hparams,
        build_head=lambda: FOPHead(d_face, d_voice, n_classes, **hparams),
        summary=f"FOP two-branch, {fusion} fusion, face {d_face} / voice {d_voice} -> {dim}, {n_classes} classes",
        details=details,
    )
