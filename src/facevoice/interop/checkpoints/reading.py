"""Reading a released checkpoint file safely: ``torch.load(weights_only=True)``, never a plain unpickle.

The releases of this field are torch pickles ``{"epoch": int, "state_dict": {name: tensor}}``
(often saved from CUDA tensors, hence ``map_location="cpu"``). Loading goes through torch's
restricted unpickler, which builds tensors, containers and numbers only; two harmless types that
training scripts commonly store beside the weights are allowed on top (``argparse.Namespace`` for
the script's flags, numpy scalars for a best score). Anything else (a whole pickled ``nn.Module``,
custom classes) is refused, naming the classes, rather than executed. ``.safetensors`` files are
read with safetensors.

Every failure is a :class:`CheckpointImportError` with a one-line message naming the file.
"""

from __future__ import annotations

import argparse
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")  # where training scripts put the weights
PREFIXES = ("module.",)  # torch.nn.DataParallel / DistributedDataParallel wrap the model as `module`


class CheckpointImportError(ValueError):
    """The file is not a checkpoint facevoice can import (the message names the file and what it found)."""


def _safe_extra_globals() -> list[Any]:
    """Types allowed beyond torch's weights-only defaults: argparse flags and numpy scalars (data, no code)."""
    scalar = np._core.multiarray.scalar  # numpy >= 2; pickles written under numpy 1 name numpy.core.multiarray
    extra: list[Any] = [argparse.Namespace, np.dtype, scalar, (scalar, "numpy.core.multiarray.scalar")]
    extra += [type(np.dtype(t)) for t in ("float16", "float32", "float64", "int32", "int64", "bool")]
    return extra


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


OTHER_FILES = {  # magic bytes of files people mistake for checkpoints
    b"\x89HDF": "an HDF5 file (Keras / TensorFlow weights), not a PyTorch checkpoint",
    b"\x93NUMPY": "a numpy array file, not a PyTorch checkpoint",
    b"PK\x05\x06": "an empty zip archive, not a PyTorch checkpoint",
}
TF_SUFFIXES = (".index", ".meta", ".pb", ".ckpt")


def _not_importable(path: Path, exc: Exception) -> CheckpointImportError:
    """Say in one line what the file is, from its first bytes and torch's (multi-line) error."""
    msg = str(exc)
    with path.open("rb") as fh:
        head = fh.read(8)
    unsupported = re.findall(r"Unsupported global: GLOBAL ([\w.]+)", msg)
    if unsupported:
        return CheckpointImportError(
            f"{path}: holds pickled Python objects ({', '.join(sorted(set(unsupported)))}) that "
            "torch.load(weights_only=True) refuses to run; facevoice imports weight files only: if you trust the "
            "file, re-save its state_dict (torch.save({'state_dict': model.state_dict()}, PATH)) and import that"
        )
    if not head:
        return CheckpointImportError(f"{path}: empty file (not a PyTorch checkpoint)")
    if path.suffix in TF_SUFFIXES or ".data-" in path.name:
        return CheckpointImportError(f"{path}: looks like a TensorFlow checkpoint; only PyTorch checkpoints import")
    for magic, what in OTHER_FILES.items():
        if head.startswith(magic):
            return CheckpointImportError(f"{path}: {what}")
    if head.startswith(b"PK\x03\x04"):
        first = msg.split(". ")[0]
        return CheckpointImportError(f"{path}: corrupt or truncated PyTorch zip archive ({_one_line(first, 120)})")
    if head.startswith(b"\x80") and not isinstance(exc, EOFError):
        found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\n\n|$)", msg, re.S)
        why = _one_line(found.group(1) if found else msg, 120)
        return CheckpointImportError(f"{path}: a Python pickle, not a PyTorch checkpoint ({why})")
    if head.startswith(b"\x80"):
        return CheckpointImportError(f"{path}: truncated pickle (not a complete PyTorch checkpoint)")
    return CheckpointImportError(
        f"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle; starts with {head[:4]!r})"
    )


def load_checkpoint_object(path: str | Path) -> Any:
    """The object stored in ``path`` (weights-only torch load on the CPU, or a safetensors read)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointImportError(f"{path}: is a directory, not a checkpoint file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return {"state_dict": load_file(str(path), device="cpu")}
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointImportError(f"{path}: not a readable safetensors file ({_one_line(exc)})") from exc
    try:
        with torch.serialization.safe_globals(_safe_extra_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's pickle-protocol notice; failures raise anyway
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip / EOF errors and refused globals: all mean "cannot import this"
        raise _not_importable(path, exc) from exc


def describe(obj: Any, n: int = 4) -> str:
    """A short description of a loaded object for error messages: top-level keys, a few tensors and shapes."""
    if isinstance(obj, torch.Tensor):
        return f"a single tensor of shape {tuple(obj.shape)}"
    if not isinstance(obj, Mapping):
        return f"a {type(obj).__name__}"
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if tensors and len(tensors) == len(obj):
        shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(tensors.items())[:n])
        return f"{len(tensors)} tensor{'s' if len(tensors) > 1 else ''}, e.g. {shown}"
    keys = [str(k) for k in list(obj)[:8]] + (["..."] if len(obj) > 8 else [])
    nested = next((v for v in obj.values() if isinstance(v, Mapping) and v), None)
    inner = f"; {describe(nested, n)}" if nested is not None else ""
    return f"top-level keys [{', '.join(keys)}]{inner}"


def find_state_dict(obj: Any, path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, extras)``: the name → tensor mapping of a loaded checkpoint and its scalar extras.

    The weights are ``obj["state_dict"]`` (or ``model_state_dict`` / ``model``) or ``obj`` itself when
    every value is a tensor; a ``module.`` prefix on every key (DataParallel) is removed. ``extras``:
    the top-level ints, floats and strings (e.g. ``epoch``).
    """
    if not isinstance(obj, Mapping):
        raise CheckpointImportError(f"{path}: expected a dict of tensors (a state_dict), found {describe(obj)}")
    sd: Any = next((obj[k] for k in STATE_DICT_KEYS if isinstance(obj.get(k), Mapping)), None)
    if sd is None and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        sd = obj
    if sd is None or not sd:
        raise CheckpointImportError(f"{path}: no state_dict of tensors, found {describe(obj)}")
    bad = [str(k) for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointImportError(f"{path}: the state_dict holds non-tensor entries {bad[:4]}: {describe(sd)}")
    sd = {str(k): v for k, v in sd.items()}
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    extras = {
        str(k): _one_line(v) if isinstance(v, str) else v.item() if isinstance(v, np.generic) else v
        for k, v in obj.items()
        if isinstance(v, (int, float, str, np.generic)) and not isinstance(v, bool)
    }
    return sd, extras
