"""Cross-modal methods (head + losses + how to be fed), registered in :data:`METHODS`.

Each entry is a :class:`facevoice.methods.base.Method` subclass built as
``Method(d_face, d_voice, n_classes, **hparams)``; ``hparams`` (the recipe's ``method:`` section)
default to the paper's values and unknown names are rejected. ``cca`` is training-free
(``trainable = False``): the trainer fits it with ``fit_bundle`` instead of gradient steps; so is
``plda`` (the cross-modal PLDA back-end on the embeddings, fitted with ``fit_backend``). ``xplda``
(facevoice's own) trains a residual front-end and scores with that back-end.
Entries are registered lazily ("module:attr").
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from facevoice.core.registry import Registry

if TYPE_CHECKING:
    from facevoice.methods.base import Method

METHODS = Registry("method")

METHODS.register("fop", "facevoice.methods.fop:FOPMethod")
METHODS.register("sbnet", "facevoice.methods.sbnet:SBNetMethod")
METHODS.register("paeff", "facevoice.methods.paeff:PAEFFMethod")
METHODS.register("ssos", "facevoice.methods.ssos:SSoSMethod")
METHODS.register("contrastive", "facevoice.methods.contrastive:ContrastiveMethod")
METHODS.register("cca", "facevoice.methods.cca:CCAMethod")
METHODS.register("plda", "facevoice.methods.plda:PLDAMethod")
METHODS.register("xplda", "facevoice.methods.xplda:XPLDAMethod")


def create_method(
    name: str, d_face: int, d_voice: int, n_classes: int, hparams: Mapping[str, Any] | None = None
) -> Method:
    """The method registered as ``name`` (or any ``"package.module:Class"``), built for these sizes.

    ``hparams`` is the recipe's ``method:`` section without ``name``; unknown keys are rejected by
    the method.
    """
    if ":" in name:
        module, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        cls = METHODS.get(name)
    return cls(int(d_face), int(d_voice), int(n_classes), **dict(hparams or {}))


__all__ = ["METHODS", "create_method"]
