"""The methods registry and :func:`create_method`, the factory the trainer and the run loader call.

Importing this module imports no torch: the method modules register themselves beside their classes
(``@METHODS.register("fop")``) and are imported on the registry's first lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from facevoice.core.registry import Registry

if TYPE_CHECKING:
    from facevoice.methods.base import Method

#: every method, registered beside its class; filled on first lookup
METHODS = Registry("method", package="facevoice.methods")


def create_method(
    name: str, d_face: int, d_voice: int, n_classes: int, hparams: Mapping[str, Any] | None = None
) -> Method:
    """The method registered as ``name`` (or any ``"package.module:Class"``), built for these sizes.

    ``hparams`` is the recipe's ``method:`` section without ``name``; unknown keys are rejected by
    the method with one line listing the valid ones.
    """
    cls = METHODS.get(name)
    return cls(int(d_face), int(d_voice), int(n_classes), **dict(hparams or {}))


def trainable_methods() -> list[str]:
    """Names of the registered methods trained by gradient steps (``Method.trainable``), sorted."""
    return [n for n in METHODS.names() if getattr(METHODS.get(n), "trainable", False)]
