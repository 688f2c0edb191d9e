"""Content hashes that identify data: files and arrays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


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
