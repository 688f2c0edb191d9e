"""Frozen face and voice encoders behind one interface (:class:`Encoder`) and one registry.

``ENCODERS.names()`` lists them; :func:`create_encoder` builds one by name. Each encoder registers
itself beside its class, and the transformers families come from one table
(:mod:`facevoice.encoders.hf.families`); the registry imports the encoder modules on its first
lookup, so importing this package does not import torch, transformers, dlib or resemblyzer.
"""

from facevoice.core.types import SKIP_REASONS, LoadedItem, SkipItem
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput, create_encoder, encoder_takes_source

__all__ = [
    "ENCODERS",
    "SKIP_REASONS",
    "Encoder",
    "EncoderOutput",
    "LoadedItem",
    "SkipItem",
    "create_encoder",
    "encoder_takes_source",
]
