"""Checks on what a visitor uploads, before anything is decoded: size, kind of media, modality, duration.

Each check returns the message the page shows (naming the uploaded file by its name, never the
server's path), or None when the upload may be searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facevoice.core.types import SkipItem
from facevoice.data.media.io import load_audio
from facevoice.data.media.probe import probe_media

WHAT = {
    "face": "a face picture (jpg, png, ...) or a video",
    "voice": "a voice clip (wav, flac, m4a, mp3, ...) or a video",
}


@dataclass(frozen=True)
class UploadLimits:
    """``max_mb``: largest upload (also enforced by the server); ``max_seconds``: longest audio or video."""

    max_mb: float = 20.0
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_mb <= 0 or self.max_seconds <= 0:
            raise ValueError(f"upload limits must be positive, got {self.max_mb} MB and {self.max_seconds} s")


def check_upload(path: str | Path | None, modality: str, limits: UploadLimits) -> str | None:
    """Why the uploaded file cannot be used as a ``modality`` query, or None if it can."""
    if not path:
        return f"Upload {WHAT[modality]} first."
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
    except OSError:
        return f"{name}: the upload did not arrive; try again."
    if size > limits.max_mb * 1e6:
        return f"{name}: {size / 1e6:.1f} MB is over the {limits.max_mb:g} MB upload limit."
    try:
        info = probe_media(p)
    except SkipItem as skip:
        reason = {"empty": "the file is empty", "unreadable": "not an image, audio or video file"}.get(
            skip.reason, skip.reason
        )
        return f"{name}: {reason}. Upload {WHAT[modality]}."
    if modality not in info.modalities:
        found = (
            "a picture without sound"
            if info.kind == "image"
            else f"{info.kind} without {'a picture' if modality == 'face' else 'sound'}"
        )
        return f"{name}: {found}. Upload {WHAT[modality]}."
    seconds = info.duration_s
    if info.kind in ("audio", "video") and seconds is None and modality == "voice":
        try:  # no duration in the header: decode (the size limit bounds the work)
            seconds = len(load_audio(p, 16000)) / 16000
        except SkipItem as skip:
            return f"{name}: {skip.reason}. Upload {WHAT[modality]}."
    if seconds is not None and seconds > limits.max_seconds:
        return f"{name}: {seconds:.0f} s is longer than the {limits.max_seconds:g} s limit."
    return None
