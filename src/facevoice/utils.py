"""Small shared helpers: seeding, hashing, logging."""

from __future__ import annotations

import hashlib
import logging
import os
import random
from pathlib import Path

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (if imported); return a numpy Generator for local use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # torch is a core dependency, but keep utils importable without it
        pass
    return np.random.default_rng(seed)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def array_sha256(*arrays: np.ndarray) -> str:
    """Hex SHA-256 of one or more arrays' bytes (shape and dtype included)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def get_logger(name: str) -> logging.Logger:
    """A module logger writing through rich when available."""
    logger = logging.getLogger(name)
    if not logging.getLogger().handlers and not logger.handlers:
        try:
            from rich.logging import RichHandler

            handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        except ImportError:
            handler = logging.StreamHandler()
        logging.basicConfig(
            level=os.environ.get("FACEVOICE_LOGLEVEL", "INFO"), format="%(message)s", handlers=[handler]
        )
    return logger
