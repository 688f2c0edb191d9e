"""Cross-modal methods (head + losses + how to be fed), registered in :data:`METHODS`.

Each entry is a :class:`facevoice.methods.base.Method` subclass built as
``Method(d_face, d_voice, n_classes, **hparams)`` (:func:`create_method`); ``hparams`` (the recipe's
``method:`` section) default to the paper's values and unknown names are rejected. ``cca`` is
training-free (``trainable = False``): the trainer fits it with ``fit_bundle`` instead of gradient
steps; :func:`trainable_methods` lists the others. A method registers itself beside its class
(``@METHODS.register("name")``) and builds its head and losses by name (``create_head``,
``create_loss``); importing this package imports no method module.
"""

from __future__ import annotations

from facevoice.methods.registry import METHODS, create_method, trainable_methods

__all__ = ["METHODS", "create_method", "trainable_methods"]
