"""Seeding every random number generator a run draws from."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (if installed); return a numpy Generator for local use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # torch is a core dependency, but keep core importable without it
        pass
    return np.random.default_rng(seed)
