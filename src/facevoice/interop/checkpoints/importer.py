"""``import_checkpoint``: a released checkpoint → a facevoice run directory.

Steps: load the file safely (:mod:`.reading`), recognise its format from keys and shapes
(``auto`` tries every format and needs exactly one to fit), build the registered method at the
checkpoint's sizes, load the tensors into its head (strict), check they arrived bit for bit, and
write ``run.json`` + ``checkpoints/{best,last}`` so ``embed``, ``test-lists``, ``export-fame`` and
``evaluate`` (via ``embed``) use it like a trained run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facevoice.core.hashing import file_sha256
from facevoice.interop.checkpoints.fop import recognise_fop
from facevoice.interop.checkpoints.layout import FormatMismatch, Recognised, match_layout
from facevoice.interop.checkpoints.reading import (
    CheckpointImportError,
    describe,
    find_state_dict,
    load_checkpoint_object,
)
from facevoice.interop.checkpoints.releases import input_record, release_record
from facevoice.interop.checkpoints.sbnet import recognise_sbnet
from facevoice.methods import create_method
from facevoice.methods.base import Method
from facevoice.runs.checkpoint import save_checkpoint

FORMATS: dict[str, Callable[[Mapping[str, torch.Tensor]], Recognised]] = {
    "fop": recognise_fop,
    "sbnet": recognise_sbnet,
}
FORMAT_NAMES = {"fop": "FOP", "sbnet": "SBNet"}
FORMAT_CHOICES = ("auto", *FORMATS)


def recognise(
    sd: Mapping[str, torch.Tensor], fmt: str = "auto", path: str | Path = "checkpoint", found: str | None = None
) -> tuple[Recognised, dict[str, torch.Tensor]]:
    """The format ``sd`` is in (``fmt``: ``auto`` or a format name) and ``sd`` completed for loading.

    A format fits when its anchor tensors give sizes at which facevoice's head has exactly the
    file's tensor names and shapes. Raises :class:`CheckpointImportError` (one line naming what was
    found, ``found`` or a description of ``sd``) when none fits, or when ``auto`` finds more than one.
    """
    if fmt not in FORMAT_CHOICES:
        raise ValueError(f"checkpoint format must be one of {list(FORMAT_CHOICES)}, got {fmt!r}")
    tried = FORMATS if fmt == "auto" else {fmt: FORMATS[fmt]}
    fits: list[tuple[Recognised, dict[str, torch.Tensor]]] = []
    reasons: dict[str, str] = {}
    for name, fn in tried.items():
        try:
            rec = fn(sd)
            fits.append((rec, match_layout(rec.build_head(), sd)))
        except FormatMismatch as exc:
            reasons[name] = str(exc)
    if len(fits) == 1:
        return fits[0]
    if len(fits) > 1:  # cannot happen with the current formats (disjoint key names); guard against new ones
        raise CheckpointImportError(f"{path}: fits several formats {[r.format for r, _ in fits]}; give --format")
    why = "; ".join(f"{FORMAT_NAMES[n]}: {r}" for n, r in reasons.items())
    what = " or ".join(FORMAT_NAMES[n] for n in tried)
    raise CheckpointImportError(f"{path}: not an {what} checkpoint ({why}); found {found or describe(sd)}")


def read_checkpoint(path: str | Path, fmt: str = "auto") -> tuple[dict[str, torch.Tensor], Recognised, dict[str, Any]]:
    """``(state_dict, recognised format, info)`` of a checkpoint file.

    ``info``: format, method, sizes, architecture details, the file's epoch and other scalar
    entries, sha256 and path.
    """
    path = Path(path)
    obj = load_checkpoint_object(path)
    sd, extras = find_state_dict(obj, path)
    rec, sd = recognise(sd, fmt, path, found=describe(obj))
    info = {
        "format": rec.format,
        "summary": rec.summary,
        "epoch": int(extras["epoch"]) if isinstance(extras.get("epoch"), (int, float)) else None,
        "file_entries": {k: v for k, v in extras.items() if k != "epoch"},
        "d_face": rec.d_face,
        "d_voice": rec.d_voice,
        "n_classes": rec.n_classes,
        **rec.details,
        "dtypes": sorted({str(v.dtype).removeprefix("torch.") for v in sd.values() if v.is_floating_point()}),
        "sha256": file_sha256(path),
        "source": str(path),
    }
    return sd, rec, info


def _load_head(head: nn.Module, sd: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Strict load, then check every tensor arrived bit for bit (float32 files; others are cast)."""
    try:
        head.load_state_dict(sd, strict=True)
    except RuntimeError as exc:  # match_layout checked names and shapes; this would be a facevoice bug
        raise CheckpointImportError(f"{path}: does not load into {type(head).__name__}: {exc}") from exc
    for k, v in head.state_dict().items():
        if v.dtype == sd[k].dtype and not torch.equal(v, sd[k]):
            raise CheckpointImportError(f"{path}: tensor {k} changed while loading")


def import_head(path: str | Path, fmt: str = "auto") -> tuple[nn.Module, dict[str, Any]]:
    """facevoice's head for the checkpoint's format with its weights, in eval mode, and the info."""
    sd, rec, info = read_checkpoint(path, fmt)
    head = rec.build_head()
    _load_head(head, sd, path)
    return head.eval(), info


def import_method(
    path: str | Path, fmt: str = "auto", method: str | None = None, **hparams: Any
) -> tuple[Method, dict[str, Any]]:
    """The registered method (default: the format's) with the checkpoint loaded into its head (eval mode).

    ``method``: another registered method holding exactly one head of the format's class;
    ``hparams`` add to the ones that rebuild the architecture.
    """
    m, _, info = _import(path, fmt, method, hparams)
    return m, info


def _import(
    path: str | Path, fmt: str, method: str | None, hparams: Mapping[str, Any]
) -> tuple[Method, Recognised, dict[str, Any]]:
    sd, rec, info = read_checkpoint(path, fmt)
    name = method or rec.method
    hp = {**rec.hparams, **hparams}
    m = create_method(name, rec.d_face, rec.d_voice, rec.n_classes, hp)
    heads = [mod for mod in m.modules() if isinstance(mod, rec.head_class)]
    if len(heads) != 1:
        raise CheckpointImportError(
            f"method {name!r} holds {len(heads)} {rec.head_class.__name__} modules; a {rec.format} checkpoint "
            "needs exactly one"
        )
    _load_head(heads[0], sd, path)
    return m.eval(), rec, {**info, "method": name, "hparams": hp}


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def import_checkpoint(
    path: str | Path,
    out: str | Path,
    fmt: str = "auto",
    method: str | None = None,
    face_encoder: str | None = None,
    voice_encoder: str | None = None,
) -> Path:
    """Write a facevoice run directory from a released checkpoint; returns ``out``.

    ``run.json`` records the method and its hyper-parameters, the sizes, ``status: "imported"``,
    ``imported`` (format, release family, file sha256 and path, epoch, architecture) and ``inputs``
    (per modality: external pre-extracted features, the encoder they come from, no facevoice
    encoder; see :func:`facevoice.interop.checkpoints.releases.input_record`). ``out`` may be new, empty, or a
    run imported earlier from the same file (re-importing is idempotent, so an interrupted import
    is simply run again); any other existing run is refused.
    """
    m, rec, info = _import(path, fmt, method, {})
    out = Path(out)
    run_json = out / "run.json"
    if run_json.exists():
        old = json.loads(run_json.read_text())
        if (old.get("imported") or {}).get("sha256") != info["sha256"]:
            raise CheckpointImportError(f"{out}: already holds another run; choose a new --out folder")
    elif out.exists() and any(p for p in out.iterdir() if p.name != "checkpoints"):
        raise CheckpointImportError(f"{out}: exists and is not an imported run; choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"imported_from": info["source"], "sha256": info["sha256"], "format": info["format"]}
    for which in ("best", "last"):
        save_checkpoint(out / "checkpoints" / which, m, {"epoch": info["epoch"]}, meta)
    inputs = input_record(rec, face_encoder, voice_encoder)
    run = {
        "method": info["method"],
        "hparams": info["hparams"],
        "d_face": info["d_face"],
        "d_voice": info["d_voice"],
        "n_classes": info["n_classes"],
        "status": "imported",
        "imported": {**{k: v for k, v in info.items() if k not in ("method", "hparams")}, **release_record(rec)},
        "inputs": inputs,
        "data": {"source": "external_features", "encoder_tags": {m: inputs[m]["tag"] for m in ("face", "voice")}},
        "torch": torch.__version__,
    }
    _write_json_atomic(run_json, run)  # written last: a run.json means the checkpoints are complete
    return out
