"""Frozen face and voice encoders behind one interface (:class:`Encoder`) and one registry.

``ENCODERS.names()`` lists them; entries are registered lazily so that importing this package does
not import torch, transformers, dlib or resemblyzer.
"""

from typing import Any

from facevoice.core.types import SKIP_REASONS, LoadedItem, SkipItem
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput

ENCODERS.register("hf-audio", "facevoice.encoders.hf.audio:HFAudioEncoder")
ENCODERS.register("wavlm", "facevoice.encoders.hf.audio:make_wavlm")
ENCODERS.register("hubert", "facevoice.encoders.hf.audio:make_hubert")
ENCODERS.register("wav2vec2", "facevoice.encoders.hf.audio:make_wav2vec2")
ENCODERS.register("hf-vision", "facevoice.encoders.hf.vision:HFVisionEncoder")
ENCODERS.register("siglip", "facevoice.encoders.hf.vision:make_siglip")
ENCODERS.register("clip", "facevoice.encoders.hf.vision:make_clip")
ENCODERS.register("dinov2", "facevoice.encoders.hf.vision:make_dinov2")
ENCODERS.register("resemblyzer", "facevoice.encoders.resemblyzer_voice:ResemblyzerEncoder")
ENCODERS.register("dlib-face", "facevoice.encoders.dlib_face:DlibFaceEncoder")


def create_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build a registered encoder by name (``ENCODERS.names()`` lists them); options are its keyword arguments.

    The name and keyword arguments (less ``device``, which never changes the embeddings) are kept on the
    encoder as ``build_args`` and written with its description, so that a store, and a run trained on
    it, can rebuild the same encoder for new media (``facevoice.runs.media``).
    """
    encoder = ENCODERS.create(name, **kwargs)
    encoder.build_args = {"name": name.lower(), "options": {k: v for k, v in kwargs.items() if k != "device"}}
    return encoder


__all__ = ["ENCODERS", "SKIP_REASONS", "Encoder", "EncoderOutput", "LoadedItem", "SkipItem", "create_encoder"]
