"""What a media file is, from its content and headers only: image, audio or video, its duration and streams.

Used before any decoding to tell which modality a query file can provide (an image or a video's frames
give a face, an audio file or a video's sound track a voice) and to bound uploads by duration without
decoding them. Like the readers in :mod:`facevoice.data.media.io`, a file that is missing, empty or not
media raises :class:`~facevoice.core.types.SkipItem` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facevoice.core.types import SkipItem
from facevoice.data.media.io import check_file


@dataclass(frozen=True)
class MediaInfo:
    """``kind``: ``image``, ``audio`` or ``video``; ``duration_s`` for audio and video when the header has it."""

    path: str
    kind: str
    format: str
    has_audio: bool
    has_video: bool
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities this file can provide: ``face`` (image / video frames), ``voice`` (sound)."""
        return tuple(m for m, ok in (("face", self.has_video), ("voice", self.has_audio)) if ok)


def _probe_image(p: Path) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            fmt, (w, h) = str(im.format or "image").lower(), im.size
            im.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return MediaInfo(str(p), "image", fmt, has_audio=False, has_video=True, width=int(w), height=int(h))


def _probe_soundfile(p: Path) -> MediaInfo | None:
    import soundfile as sf

    try:
        info = sf.info(str(p))
    except Exception:  # libsndfile raises its own error types for anything it cannot parse
        return None
    seconds = info.frames / info.samplerate if info.samplerate else None
    return MediaInfo(str(p), "audio", str(info.format).lower(), has_audio=True, has_video=False, duration_s=seconds)


def _probe_av(p: Path) -> MediaInfo | None:
    import av

    try:
        with av.open(str(p)) as container:
            audio, video = container.streams.audio, container.streams.video
            if not audio and not video:
                return None
            seconds = container.duration / 1_000_000 if container.duration else None
            if seconds is None:
                for stream in (*audio, *video):
                    if stream.duration and stream.time_base:
                        seconds = float(stream.duration * stream.time_base)
                        break
            fmt = str(container.format.name).split(",")[0]
            w = int(video[0].codec_context.width) if video else None
            h = int(video[0].codec_context.height) if video else None
    except Exception:  # av raises many error types (InvalidDataError, ValueError, ...) on non-media
        return None
    kind = "video" if video else "audio"
    return MediaInfo(str(p), kind, fmt, bool(audio), bool(video), seconds, w, h)


def probe_media(path: str | Path) -> MediaInfo:
    """Kind, streams and duration of a media file; raises ``SkipItem`` (``missing``, ``empty``,
    ``permission``, ``unreadable``) when it is not an image, audio or video file."""
    p = check_file(path)
    for probe in (_probe_image, _probe_soundfile, _probe_av):
        info = probe(p)
        if info is not None:
            return info
    raise SkipItem("unreadable", f"{p}: not an image, audio or video file")
