"""Helpers shared by the method implementations: hyper-parameter resolution, batch checks, LR shapes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from facevoice.methods.base import Batch


def resolve_hparams(method: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults updated with ``given``; unknown names raise a ``ValueError`` listing the valid ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"method {method!r}: unknown hyper-parameter(s) {unknown}; valid: {sorted(defaults)}")
    out = dict(defaults)
    out.update(given)
    return out


def check_choice(method: str, name: str, value: Any, options: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise naming the hyper-parameter."""
    if value not in options:
        raise ValueError(f"method {method!r}: {name} must be one of {list(options)}, got {value!r}")
    return value


def require_paired(method: str, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(face (B, Df), voice (B, Dv), labels (B,))`` of a paired batch, or a clear error."""
    if batch.face is None or batch.voice is None:
        raise ValueError(f"method {method!r} needs paired batches (face and voice set), got modality={batch.modality}")
    if not (len(batch.face) == len(batch.voice) == len(batch.labels)):
        raise ValueError(
            f"method {method!r}: paired batch sizes differ: face {len(batch.face)}, voice {len(batch.voice)}, "
            f"labels {len(batch.labels)}"
        )
    return batch.face, batch.voice, batch.labels


def cosine_factor(n_steps: int, eta_ratio: float = 0.0, warmup_steps: int = 0) -> Callable[[int], float]:
    """LR multiplier for ``LambdaLR``: a linear warm-up, then a cosine decay from 1 to ``eta_ratio``.

    Steps ``0 .. warmup_steps - 1`` ramp linearly to 1 (``(step + 1) / warmup_steps``); the cosine then
    runs over the remaining ``n_steps - warmup_steps`` steps and stays flat at ``eta_ratio`` after them.
    The one schedule helper of facevoice (the head methods use it without warm-up, ``finetune`` with).
    """
    n = max(1, int(n_steps))
    warmup = max(0, int(warmup_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        span = max(1, n - warmup)
        t = min(step - warmup, span) / span
        return eta_ratio + (1.0 - eta_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    return factor
