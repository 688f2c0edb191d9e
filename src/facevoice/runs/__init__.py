"""Trained runs on disk: the safetensors checkpoint format (``checkpoint``) and rebuilding a run's method
to embed with it (``loading``). Training writes runs; evaluation, interop, search and pipelines read them."""

from __future__ import annotations

from facevoice.runs.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint, save_checkpoint
from facevoice.runs.loading import embed_array, load_method

__all__ = ["CheckpointError", "embed_array", "load_checkpoint", "load_method", "resolve_checkpoint", "save_checkpoint"]
