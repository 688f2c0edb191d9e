"""The SBNet checkpoint format (Saeed et al., ICASSP 2023; github.com/msaadsaeed/SBNet, ``ssnet_fop``).

One branch shared by faces and voices, ``embed_branch.fc1`` and (two-layer variant)
``embed_branch.fc2``, each ``{0: Linear, 1: BatchNorm1d}`` (then ReLU and Dropout, which hold no
weights), L2-normalisation, then ``logits_layer``. Faces and voices enter the same first Linear,
so they share one input size (512: FaceNet faces, utterance-level voices in the release). Widths
and the class count are read from the tensors; the layout is
:class:`facevoice.heads.sbnet.SBNetHead`'s (no input adapters), checked key by key and shape by shape.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from facevoice.heads.sbnet import SBNetHead
from facevoice.interop.checkpoints.layout import Recognised, tensor


def recognise_sbnet(sd: Mapping[str, torch.Tensor]) -> Recognised:
    """Sizes and depth of an SBNet checkpoint (raises :class:`FormatMismatch` when it is not one)."""
    fc1 = tensor(sd, "embed_branch.fc1.0.weight", 2)
    logits = tensor(sd, "logits_layer.weight", 2)
    d_in, hidden = int(fc1.shape[1]), int(fc1.shape[0])
    if "embed_branch.fc2.0.weight" in sd:
        layers, dim = 2, int(tensor(sd, "embed_branch.fc2.0.weight", 2).shape[0])
    else:
        layers, dim = 1, hidden
    n_classes = int(logits.shape[0])
    hparams: dict = {"dim": dim, "layers": layers, "adapter": "none", "loss": "opl"}
    if layers == 2 and hidden != dim:
        hparams["hidden_dim"] = hidden
    widths = [d_in, hidden, dim] if layers == 2 else [d_in, dim]
    return Recognised(
        format="sbnet",
        method="sbnet",
        head_class=SBNetHead,
        d_face=d_in,
        d_voice=d_in,
        n_classes=n_classes,
        hparams=hparams,
        build_head=lambda: SBNetHead(
            d_in, d_in, n_classes, dim, adapter="none", layers=layers, hidden_dim=hparams.get("hidden_dim")
        ),
        summary=f"SBNet shared branch, {layers} layer(s) {' -> '.join(map(str, widths))}, {n_classes} classes",
        details={"layers": layers, "widths": widths, "dim": dim},
    )
