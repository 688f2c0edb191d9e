"""Checkpoints as safetensors, with the resume state in a sidecar.

A checkpoint is a folder::

    model.safetensors   the method's state_dict tensors (metadata: method, epoch, step)
    state.safetensors   every tensor of the resume state (optimiser moments, RNG states, ...)
    state.json          the rest of the resume state as JSON, tensors referenced by key

Nothing is pickled, so loading never executes code. Non-tensor entries of a state_dict (e.g. a
module's ``get_extra_state``) go to the sidecar. The weights are a module's ``state_dict`` or any
name -> tensor mapping (``finetune`` stores only its trainable tensors, not the frozen encoders).

Kill safety: a folder is written under ``<name>.tmp`` and swapped in with two renames (``<name>`` ->
``<name>.prev``, ``<name>.tmp`` -> ``<name>``), so a process killed at any point leaves a complete
``<name>`` or a complete ``<name>.prev``; :func:`resolve_checkpoint` finds whichever it is, and the
next save first moves a lone ``.prev`` back into place, so it is never deleted before a newer
complete copy exists (tested by killing the writer before every file operation,
``tests/train/test_kill_writes.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

MODEL_FILE, STATE_FILE, STATE_JSON = "model.safetensors", "state.safetensors", "state.json"


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or does not fit the model."""


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able structure of ``obj`` with tensors / arrays moved into ``tensors`` (keyed ``t<i>``).

    Dicts keep their key types (int keys of optimiser states), tuples stay tuples.
    """
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"t{len(tensors)}"
        arr = obj.astype(np.int64) if obj.dtype.kind == "u" else obj
        tensors[key] = torch.from_numpy(np.ascontiguousarray(arr).copy())
        return {"__ndarray__": key, "dtype": obj.dtype.str}
    if isinstance(obj, Mapping):
        return {"__dict__": [[flatten_state(k, tensors), flatten_state(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(f"cannot store object of type {type(obj).__name__} in a checkpoint")


def unflatten_state(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy().astype(np.dtype(obj["dtype"]))
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in obj["__dict__"]}
    return obj


def split_state_dict(sd: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensor entries (contiguous CPU clones) and the non-tensor rest of a module state_dict."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in sd.items() if isinstance(v, torch.Tensor)}
    return tensors, {k: v for k, v in sd.items() if not isinstance(v, torch.Tensor)}


def save_checkpoint(
    folder: str | Path,
    model: torch.nn.Module | Mapping[str, Any],
    state: Mapping[str, Any] | None = None,
    meta: Mapping[str, str] = (),
) -> Path:
    """Write ``model``'s state_dict (or a name -> tensor mapping) and the resume ``state`` atomically to ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    prev = folder.with_name(folder.name + ".prev")
    if not folder.exists() and resolve_checkpoint(prev) == prev:  # a kill hit between the two renames last time
        prev.rename(folder)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    weights, extra = split_state_dict(model.state_dict() if isinstance(model, torch.nn.Module) else model)
    save_file(weights, str(tmp / MODEL_FILE), metadata={str(k): str(v) for k, v in dict(meta).items()})
    full = {"state": dict(state or {}), "model_extra": extra}
    side: dict[str, torch.Tensor] = {}
    structure = flatten_state(full, side)
    save_file(side, str(tmp / STATE_FILE))
    (tmp / STATE_JSON).write_text(json.dumps(structure))
    if prev.exists():
        shutil.rmtree(prev)
    if folder.exists():
        folder.rename(prev)
    tmp.rename(folder)
    if prev.exists():
        shutil.rmtree(prev)
    return folder


def resolve_checkpoint(folder: str | Path) -> Path | None:
    """The complete checkpoint folder at ``folder`` (or its ``.prev`` copy after a crash); None if none."""
    folder = Path(folder)
    for cand in (folder, folder.with_name(folder.name + ".prev")):
        if all((cand / f).exists() for f in (MODEL_FILE, STATE_FILE, STATE_JSON)):
            return cand
    return None


def read_checkpoint(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """``(weights, state, meta)`` of the complete checkpoint at ``folder``: the stored state_dict entries
    (tensors and non-tensor extras), the resume state, and the weights file's metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    found = resolve_checkpoint(folder)
    if found is None:
        raise CheckpointError(f"{folder}: no complete checkpoint ({MODEL_FILE}, {STATE_FILE}, {STATE_JSON})")
    with safe_open(str(found / MODEL_FILE), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    try:
        full = unflatten_state(json.loads((found / STATE_JSON).read_text()), load_file(str(found / STATE_FILE)))
    except (json.JSONDecodeError, KeyError) as exc:
        raise CheckpointError(f"{found}: corrupt resume state ({type(exc).__name__}: {exc})") from exc
    weights: dict[str, Any] = dict(load_file(str(found / MODEL_FILE)))
    weights.update(full.get("model_extra", {}))
    return weights, full.get("state", {}), meta


def load_checkpoint(
    folder: str | Path, model: torch.nn.Module | None = None, strict: bool = True
) -> tuple[dict[str, Any], dict[str, str]]:
    """Load weights into ``model`` (if given); return the resume state and the model metadata."""
    weights, state, meta = read_checkpoint(folder)
    if model is not None:
        try:
            model.load_state_dict(weights, strict=strict)
        except RuntimeError as exc:
            found = resolve_checkpoint(folder)
            raise CheckpointError(f"{found / MODEL_FILE}: does not fit {type(model).__name__}: {exc}") from exc
    return state, meta
