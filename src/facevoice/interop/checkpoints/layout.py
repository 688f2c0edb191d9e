"""What a recognised checkpoint is, and the key-and-shape comparison every format goes through.

A format module reads the sizes of its architecture from a few anchor tensors
(:class:`Recognised`); :func:`match_layout` then builds facevoice's head at those sizes and requires
the file's tensors to be exactly that head's ``state_dict``: the same names, the same shapes,
nothing missing and nothing extra (BatchNorm's ``num_batches_tracked`` counters, absent from
checkpoints written before PyTorch 0.4.1 and unused in eval mode, are the one allowed gap).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


class FormatMismatch(Exception):
    """The tensors are not this format (message: the first differences, for the refusal line)."""


@dataclass(frozen=True)
class Recognised:
    """A checkpoint's format and the sizes that rebuild it in facevoice.

    ``hparams`` are the registered method's hyper-parameters that reproduce the architecture;
    ``build_head`` makes facevoice's head at these sizes; ``summary`` is one phrase for the user;
    ``details`` are the architecture's figures recorded in run.json.
    """

    format: str
    method: str
    head_class: type[nn.Module]
    d_face: int
    d_voice: int
    n_classes: int
    hparams: dict[str, Any]
    build_head: Callable[[], nn.Module]
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def tensor(sd: Mapping[str, torch.Tensor], key: str, ndim: int) -> torch.Tensor:
    """``sd[key]`` if present with ``ndim`` dimensions, else :class:`FormatMismatch` naming it."""
    t = sd.get(key)
    if t is None:
        raise FormatMismatch(f"no {key}")
    if t.ndim != ndim:
        raise FormatMismatch(f"{key} has shape {tuple(t.shape)}, expected {ndim} dimension(s)")
    return t


def _list(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def match_layout(head: nn.Module, sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``sd`` completed with zero ``num_batches_tracked`` counters where the file lacks them.

    Raises :class:`FormatMismatch` naming missing / unexpected tensors and shape differences.
    """
    want = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    extra = [k for k in sd if k not in want]
    shapes = [f"{k} {tuple(sd[k].shape)} != {want[k]}" for k in want if k in sd and tuple(sd[k].shape) != want[k]]
    problems = []
    if missing:
        problems.append(f"missing {_list(missing)}")
    if extra:
        problems.append(f"unexpected {_list(extra)}")
    if shapes:
        problems.append(f"shape {_list(shapes)}")
    if problems:
        raise FormatMismatch("; ".join(problems))
    floats = [k for k, v in sd.items() if not (v.is_floating_point() or k.endswith("num_batches_tracked"))]
    if floats:
        raise FormatMismatch(f"non-float weights {_list(floats)}")
    out = dict(sd)
    for k in want:
        if k not in out:
            out[k] = torch.zeros((), dtype=torch.long)
    return out
