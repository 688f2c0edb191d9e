"""Types shared across layers: why an item could not be embedded, and a decoded media item.

Media readers (``data.media``), encoders and extraction all raise or pass these, so they live in the
bottom layer rather than in any one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Modality = Literal["face", "voice"]
MODALITIES: tuple[str, str] = ("face", "voice")

#: Reason codes used in skip records (``EmbeddingStore.add_skips``).
SKIP_REASONS = (
    "missing",  # the file does not exist
    "permission",  # the file exists but cannot be opened
    "empty",  # zero bytes, zero samples, zero frames
    "unreadable",  # the decoder failed (wrong format, not media at all, damaged)
    "truncated",  # the file holds less than its header declares (e.g. a WAV cut short)
    "too_short",  # shorter than the encoder's minimum input
    "silent",  # no signal above the silence threshold / no voiced speech
    "no_face",  # no face found in the image or in any sampled video frame
    "encode_error",  # the model failed on this item (e.g. non-finite output)
)


class SkipItem(Exception):
    """Raised for an item that cannot be embedded; ``reason`` is one of :data:`SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; valid: {', '.join(SKIP_REASONS)}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class LoadedItem:
    """One decoded media item: ``parts`` are model inputs (one image or waveform, or several video
    frames whose embeddings are averaged); ``notes`` are per-item facts kept in the extraction report
    (e.g. ``{"face_source": "detected"}``)."""

    parts: list[Any]
    notes: dict[str, Any] = field(default_factory=dict)
