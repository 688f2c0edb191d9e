"""Capture and restore every random state a training run draws from (exact resume)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng(sampler_rng: np.random.Generator) -> dict[str, Any]:
    """Python, numpy (global + the sampler's Generator), torch CPU (and CUDA) states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy_global": np.random.get_state(),
        "sampler": sampler_rng.bit_generator.state,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], sampler_rng: np.random.Generator) -> None:
    """Inverse of :func:`capture_rng` (in place for ``sampler_rng``)."""
    random.setstate(_tuples(state["python"]))
    np.random.set_state(tuple(state["numpy_global"]))
    sampler_rng.bit_generator.state = state["sampler"]
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])


def _tuples(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return tuple(_tuples(v) for v in obj)
    return obj
