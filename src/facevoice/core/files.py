"""Writing a file so that a process killed at any moment leaves either the old or the new content.

The content goes to a temporary sibling first (its name carries the process id, so two processes never
share one) and is renamed over the target: a rename within one folder is atomic on POSIX file systems,
so a reader sees the previous file or the new one, never a torn one. What this does not cover: a power
loss before the OS flushed its cache (no fsync; the goal is surviving a killed process cheaply).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` (text is UTF-8) in one rename; returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
    return path


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """``obj`` as JSON (non-JSON values through ``str``), written with :func:`write_atomic`."""
    return write_atomic(path, json.dumps(obj, indent=indent, default=str))
