"""Projection heads and fusion modules of the cross-modal methods, registered in :data:`HEADS`.

Every head is built as ``Head(d_face, d_voice, n_classes, **options)`` (:func:`create_head`) and offers

* ``forward(face (B, Df) | None, voice (B, Dv) | None) -> dict[str, Tensor]`` (training outputs:
  per-modality embeddings, logits, fused vectors, ... with the batch as first dimension), and
* ``embed(x (B, D_modality), modality) -> (B, E)``: the scoring space (cosine = score).

A head registers itself beside its class (``@HEADS.register("name")``); the registry imports the
head modules on its first lookup, so importing this package imports no head (and no torch model code).
"""

from __future__ import annotations

from facevoice.heads.registry import HEADS, create_head

__all__ = ["HEADS", "create_head"]
