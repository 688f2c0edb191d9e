"""What a WAV file's header promises, read without decoding: to catch truncated files.

libsndfile (and so ``soundfile``) quietly clamps a ``data`` chunk that runs past the end of the
file: a WAV whose header says 48,000 frames but that holds 15,988 decodes as a 1 s clip with no
error. :func:`wav_frames` parses the RIFF chunk list (``RIFF``/``RIFX`` + ``WAVE``; ``fmt`` for the
frame size, ``data`` for the declared length) and returns the declared and the present frame counts,
so the reader can refuse the file instead of embedding a fragment.

Hand-written on purpose: neither soundfile nor the standard ``wave`` module (which also clamps)
exposes the declared length, and the header is a few fixed little-endian fields.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WavLength", "wav_frames"]

#: a ``data`` size written by streaming tools that do not know the length (not a truncation)
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


@dataclass(frozen=True)
class WavLength:
    """Frames the header declares and frames the file holds (``block_align`` bytes per frame)."""

    declared: int
    present: int
    sample_rate: int

    @property
    def truncated(self) -> bool:
        return self.present < self.declared


def wav_frames(path: str | Path) -> WavLength | None:
    """Declared and present frame counts of a RIFF/RIFX WAVE file; None when it is not one or the
    header does not state a length (streamed files, RF64, a missing ``fmt``/``data`` chunk)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX"):
                return None
            endian = "<" if head[:4] == b"RIFF" else ">"
            block_align = sample_rate = 0
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, csize = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(min(csize, 16))
                    if len(fmt) < 14:
                        return None
                    sample_rate = struct.unpack(endian + "I", fmt[4:8])[0]
                    block_align = struct.unpack(endian + "H", fmt[12:14])[0]
                elif cid == b"data":
                    if block_align <= 0 or csize in _UNKNOWN_SIZES:
                        return None
                    available = max(0, size - (pos + 8))
                    return WavLength(csize // block_align, min(csize, available) // block_align, sample_rate)
                pos += 8 + csize + (csize & 1)  # chunks are padded to an even size
    except OSError:
        return None
    return None
