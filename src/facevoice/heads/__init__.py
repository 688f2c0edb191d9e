"""Projection heads and fusion modules of the cross-modal methods, registered in :data:`HEADS`.

Every head is built as ``Head(d_face, d_voice, n_classes, **options)`` and offers

* ``forward(face (B, Df) | None, voice (B, Dv) | None) -> dict[str, Tensor]`` (training outputs:
  per-modality embeddings, logits, fused vectors, ... with the batch as first dimension), and
* ``embed(x (B, D_modality), modality) -> (B, E)``: the scoring space (cosine = score).

Entries are registered lazily ("module:attr"), so importing this package imports no head.
"""

from __future__ import annotations

from facevoice.core.registry import Registry

HEADS = Registry("head")

HEADS.register("fop", "facevoice.heads.fop:FOPHead")
HEADS.register("sbnet", "facevoice.heads.sbnet:SBNetHead")
HEADS.register("paeff", "facevoice.heads.paeff:PAEFFHead")
HEADS.register("ssos", "facevoice.heads.ssos:SSoSHead")
HEADS.register("contrastive", "facevoice.heads.contrastive:ContrastiveHead")

__all__ = ["HEADS"]
