"""The frozen-encoder interface and the ``ENCODERS`` registry.

An encoder turns media files into fixed-size embeddings in two steps, so that I/O and decoding
can run apart from the model:

* ``load(path) -> LoadedItem``: read, decode and preprocess one file (resample audio, detect and
  crop faces, sample video frames). It raises :class:`SkipItem` with a reason code when the file
  cannot be embedded (missing, unreadable, empty, silent, no face, ...); nothing is dropped silently.
* ``encode(inputs, layers=False) -> EncoderOutput``: embed a batch of loaded inputs (one per
  ``LoadedItem.parts`` entry), returning ``(B, D)`` embeddings and, for layered models, the pooled
  hidden state of every layer ``(L, B, D)``.

Each encoder has a ``tag`` naming the model, its options and a hash of its weights; the embedding
store refuses embeddings written under a different tag.

Each encoder class lists the options a user may set (``--opt key=value``) in :attr:`Encoder.OPTIONS`
(name → what it takes), beside its constructor; :func:`check_options` refuses any other name in one
line listing the valid ones (``tests/encoders`` checks every list against the constructor).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.core.registry import Registry
from facevoice.core.types import LoadedItem

#: every encoder, registered beside its class (``@ENCODERS.register("dlib-face")``; the transformers
#: families from their table); filled on first lookup
ENCODERS = Registry("encoder", package="facevoice.encoders")
__all__ = ["ENCODERS", "Encoder", "EncoderOutput", "LoadedItem", "check_options", "create_encoder"]


@dataclass
class EncoderOutput:
    """``embeddings``: ``(B, D)`` float32; ``layers``: ``(L, B, D_layer)`` float32 or None."""

    embeddings: np.ndarray
    layers: np.ndarray | None = None


def check_options(name: str, entry: Any, options: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the unknown keys of ``options`` for the encoder registered as ``name``.

    ``entry`` is the registry entry (an :class:`Encoder` class, or a factory carrying ``OPTIONS``).
    """
    valid = getattr(entry, "OPTIONS", None)
    if valid is None:
        return
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(valid) or "none"
        raise ValueError(f"encoder {name!r} has no option {', '.join(map(repr, unknown))}; valid options: {listing}")


class Encoder(ABC):
    """A frozen encoder of one modality (``'face'`` or ``'voice'``)."""

    #: options a user may set (``--opt key=value``): name -> what it takes (see :func:`check_options`)
    OPTIONS: dict[str, str] = {}

    #: registry name of the encoder family
    name: str = ""
    #: ``'face'`` or ``'voice'``
    modality: str = ""
    #: audio sample rate the encoder expects (voice encoders only)
    sample_rate: int | None = None
    #: built from a user-named ``source`` (hub name, model folder, config); False: its weights are packaged
    takes_source: bool = False
    #: how :func:`facevoice.encoders.create_encoder` built it (``{"name", "options"}``); None otherwise
    build_args: dict[str, Any] | None = None

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding size ``D``."""

    @property
    @abstractmethod
    def weights_hash(self) -> str:
        """Hex digest identifying the weights (stable across processes and machines)."""

    @abstractmethod
    def options(self) -> dict[str, Any]:
        """The options that change the embeddings (pooling, layer, detector settings, ...)."""

    @abstractmethod
    def load(self, path: str | Path) -> LoadedItem:
        """Read and preprocess one media file; raise :class:`SkipItem` when it cannot be embedded."""

    @abstractmethod
    def encode(self, inputs: list[Any], layers: bool = False) -> EncoderOutput:
        """Embed ``B`` loaded parts → ``EncoderOutput((B, D), (L, B, D) or None)``."""

    @property
    def num_layers(self) -> int | None:
        """Number of per-layer outputs ``L`` returned by ``encode(..., layers=True)``; None if not layered."""
        return None

    @property
    def tag(self) -> str:
        """``name:option=value,...#hash`` — changes whenever the weights or the options change."""
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options().items()) if v is not None)
        return f"{self.name}:{opts}#{self.weights_hash[:16]}"

    def describe(self) -> dict[str, Any]:
        """Metadata stored beside the embeddings."""
        return {
            "encoder": self.name,
            "modality": self.modality,
            "dim": self.dim,
            "tag": self.tag,
            "weights_sha256": self.weights_hash,
            "options": self.options(),
            "sample_rate": self.sample_rate,
            "num_layers": self.num_layers,
            "build": self.build_args,
        }


def create_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build a registered encoder by name (``ENCODERS.names()`` lists them); options are its keyword arguments.

    Unknown names and options raise one line listing the valid ones. The name and keyword arguments
    (less ``device``, which never changes the embeddings) are kept on the encoder as ``build_args`` and
    written with its description, so that a store, and a run trained on it, can rebuild the same encoder
    for new media (``facevoice.runs.media``).
    """
    encoder = ENCODERS.create(name, **kwargs)
    encoder.build_args = {"name": name.lower(), "options": {k: v for k, v in kwargs.items() if k != "device"}}
    return encoder


def encoder_takes_source(name: str) -> bool:
    """Whether encoder ``name`` is built from a user-named source (a transformers family) or packaged weights."""
    return bool(getattr(ENCODERS.get(name), "takes_source", False))
