"""Cross-modal methods (head + losses + how to be fed), registered in :data:`METHODS`.

Each entry is a :class:`facevoice.methods.base.Method` subclass built as
``Method(d_face, d_voice, n_classes, **hparams)``; ``hparams`` (the recipe's ``method:`` section)
default to the paper's values and unknown names are rejected. ``cca`` is training-free
(``trainable = False``): the trainer fits it with ``fit_bundle`` instead of gradient steps.
Entries are registered lazily ("module:attr").
"""

from __future__ import annotations

from facevoice.registry import Registry

METHODS = Registry("method")

METHODS.register("fop", "facevoice.methods.fop:FOPMethod")
METHODS.register("sbnet", "facevoice.methods.sbnet:SBNetMethod")
METHODS.register("paeff", "facevoice.methods.paeff:PAEFFMethod")
METHODS.register("ssos", "facevoice.methods.ssos:SSoSMethod")
METHODS.register("contrastive", "facevoice.methods.contrastive:ContrastiveMethod")
METHODS.register("cca", "facevoice.methods.cca:CCAMethod")

__all__ = ["METHODS"]
