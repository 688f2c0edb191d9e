"""Import the official FOP checkpoints (``checkpoint.pth.tar`` of the FOP / FAME baseline releases).

The file is a torch pickle ``{"epoch": int, "state_dict": {...}}`` holding only tensors and an int,
so it loads with ``torch.load(weights_only=True)`` (no code runs). Its key layout is the one of
:class:`facevoice.heads.fop.FOPHead`: ``{face,voice}_branch.fc1.{0,1}``,
``fusion_layer.attention.{0.block.0, 0.block.1, 1}`` (gated) or ``fusion_layer.weight{1,2}``
(linear), ``logits_layer``. Sizes and the fusion type are read from the tensors, so v1/v2/v3
checkpoints (64/78/50 classes) import alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from facevoice.core.hashing import file_sha256
from facevoice.heads.fop import FOPHead
from facevoice.methods import create_method
from facevoice.runs.checkpoint import save_checkpoint

REQUIRED_KEYS = ("face_branch.fc1.0.weight", "voice_branch.fc1.0.weight", "logits_layer.weight")


class FOPCheckpointError(ValueError):
    """The file is not an FOP checkpoint facevoice can import."""


def read_fop_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, info)`` from an official checkpoint; info has epoch, sizes, fusion, sha256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FOP checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors, or objects weights_only refuses
        raise FOPCheckpointError(f"{path}: cannot load with torch.load(weights_only=True): {exc}") from exc
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise FOPCheckpointError(f"{path}: expected a dict with a tensor 'state_dict', got {type(obj).__name__}")
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel prefix
    missing = [k for k in REQUIRED_KEYS if k not in sd]
    if missing:
        raise FOPCheckpointError(f"{path}: not an FOP checkpoint, missing {missing} (has e.g. {sorted(sd)[:5]})")
    if "fusion_layer.attention.1.weight" in sd:
        fusion = "gated"
    elif "fusion_layer.weight1" in sd:
        fusion = "linear"
    else:
        raise FOPCheckpointError(f"{path}: no gated (fusion_layer.attention.*) or linear (fusion_layer.weight1) fusion")
    dim, d_face = sd["face_branch.fc1.0.weight"].shape
    info = {
        "epoch": int(obj.get("epoch", -1)) if isinstance(obj, dict) else -1,
        "d_face": int(d_face),
        "d_voice": int(sd["voice_branch.fc1.0.weight"].shape[1]),
        "dim": int(dim),
        "n_classes": int(sd["logits_layer.weight"].shape[0]),
        "fusion": fusion,
        "sha256": file_sha256(path),
        "source": str(path),
    }
    if fusion == "gated":
        info["attention_dim"] = int(sd["fusion_layer.attention.1.weight"].shape[1])
    return sd, info


def import_fop_head(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A :class:`~facevoice.heads.fop.FOPHead` with the checkpoint's weights (strict), in eval mode."""

    sd, info = read_fop_state_dict(path)
    kw = {"fusion": info["fusion"], "dim": info["dim"]}
    if "attention_dim" in info:
        kw["attention_dim"] = info["attention_dim"]
    head = FOPHead(info["d_face"], info["d_voice"], info["n_classes"], **kw)
    try:
        head.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise FOPCheckpointError(f"{path}: does not match facevoice's FOP head: {exc}") from exc
    return head.eval(), info


def import_fop_method(path: str | Path, method: str = "fop", **hparams: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The registered FOP *method* with its FOP head loaded from the checkpoint (eval mode)."""

    head, info = import_fop_head(path)
    hp = {"fusion": info["fusion"], **hparams}
    m = create_method(method, info["d_face"], info["d_voice"], info["n_classes"], hp)
    targets = [mod for mod in m.modules() if isinstance(mod, FOPHead)]
    if len(targets) != 1:
        raise FOPCheckpointError(f"method {method!r} holds {len(targets)} FOP heads; expected exactly one")
    targets[0].load_state_dict(head.state_dict(), strict=True)
    return m.eval(), {**info, "method": method, "hparams": hp}


def import_fop_run(path: str | Path, out: str | Path, method: str = "fop", **hparams: Any) -> Path:
    """Write a facevoice run directory (run.json + ``checkpoints/best`` and ``last``) from a checkpoint.

    The result is usable wherever a trained run is (``load_method``, benchmark, FAME export).
    """

    m, info = import_fop_method(path, method, **hparams)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for which in ("best", "last"):
        save_checkpoint(out / "checkpoints" / which, m, {"imported_from": info["source"]}, {"epoch": info["epoch"]})
    run = {
        "method": method,
        "hparams": info["hparams"],
        "d_face": info["d_face"],
        "d_voice": info["d_voice"],
        "n_classes": info["n_classes"],
        "status": "imported",
        "imported": info,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))
    return out
