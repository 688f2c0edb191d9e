"""The heads registry and :func:`create_head`, the factory the methods build their heads with (no torch import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from facevoice.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

#: every head, registered beside its class (``@HEADS.register("fop")``); filled on first lookup
HEADS = Registry("head", package="facevoice.heads")


def create_head(name: str, d_face: int, d_voice: int, n_classes: int, **options: Any) -> nn.Module:
    """The head registered as ``name`` for these input sizes and identities; ``options`` are its keyword arguments.

    Unknown names and options raise one line listing the valid ones.
    """
    return HEADS.create(name, int(d_face), int(d_voice), int(n_classes), **options)
