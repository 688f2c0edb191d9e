"""Media I/O: audio (soundfile, av for m4a/mp4/video containers; soxr resampling; mono), images (PIL)
and video frames (av).

Every reader raises :class:`facevoice.encoders.base.SkipItem` with a reason code (``missing``,
``permission``, ``empty``, ``unreadable``, ``truncated``) naming the file and the decoder's message, so
extraction records a skip instead of crashing. A WAV whose header promises more frames than the file
holds is ``truncated`` (libsndfile would decode the fragment without a word; :mod:`.riff`).
Formats are recognised by content, not by extension: a wav
named ``.jpg`` is read as audio by the audio reader and rejected (``unreadable``) by the image reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facevoice.core.types import SkipItem
from facevoice.data.media.riff import wav_frames

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".gif", ".tif", ".tiff", ".webp"}
AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus"}
VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".mov", ".webm"}


def check_file(path: str | Path) -> Path:
    """Existence, permission and size checks → ``Path``; raises ``SkipItem`` otherwise."""
    p = Path(path)
    if not p.exists():
        raise SkipItem("missing", f"{p}: no such file")
    if not p.is_file():
        raise SkipItem("unreadable", f"{p}: not a regular file")
    if not os.access(p, os.R_OK):
        raise SkipItem("permission", f"{p}: not readable (permission denied)")
    if p.stat().st_size == 0:
        raise SkipItem("empty", f"{p}: zero bytes")
    return p


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _read_soundfile(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    x, sr = sf.read(str(p), dtype="float32", always_2d=True)
    return x.mean(axis=1), int(sr)


def _read_av_audio(p: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(p)) as container:
        streams = container.streams.audio
        if not streams:
            raise ValueError("no audio stream")
        stream = streams[0]
        chunks, sr = [], None
        for frame in container.decode(stream):
            a = frame.to_ndarray()
            sr = frame.sample_rate
            if a.dtype.kind == "i":
                a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
            a = a.astype(np.float32)
            if frame.format.is_planar:  # (channels, samples)
                chunks.append(a.mean(axis=0))
            else:  # packed: (1, samples * channels)
                n_ch = len(frame.layout.channels)
                chunks.append(a.reshape(-1, n_ch).mean(axis=1))
    if sr is None or not chunks:
        return np.zeros(0, np.float32), int(stream.sample_rate or 0)
    return np.concatenate(chunks), int(sr)


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Decode an audio (or video) file to mono float32 at ``sample_rate`` → ``(S,)``."""
    import soxr

    p = check_file(path)
    declared = wav_frames(p)
    if declared is not None and declared.truncated:
        sr = max(declared.sample_rate, 1)
        raise SkipItem(
            "truncated",
            f"{p}: header declares {declared.declared} frames ({declared.declared / sr:.2f} s), "
            f"the file holds {declared.present} ({declared.present / sr:.2f} s)",
        )
    try:
        x, sr = _read_soundfile(p)
    except Exception as sf_exc:  # libsndfile does not read m4a/mp4: try the ffmpeg decoders
        try:
            x, sr = _read_av_audio(p)
        except Exception as av_exc:
            detail = f"{p}: not decodable audio (soundfile {_err(sf_exc)}; av {_err(av_exc)})"
            raise SkipItem("unreadable", detail) from av_exc
    if x.size == 0:
        raise SkipItem("empty", f"{p}: no audio samples")
    if not np.isfinite(x).all():
        raise SkipItem("unreadable", f"{p}: non-finite audio samples")
    if sr != sample_rate:
        x = soxr.resample(x, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(x, dtype=np.float32)


def audio_level_db(wave: np.ndarray) -> float:
    """RMS level of a waveform in dBFS (``-inf``-safe: digital silence gives about -240)."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if wave.size else 0.0
    return 20.0 * float(np.log10(rms + 1e-12))


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image to RGB ``uint8 (H, W, 3)`` (EXIF orientation applied)."""
    from PIL import Image, ImageOps

    p = check_file(path)
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im).convert("RGB")
            arr = np.asarray(im, dtype=np.uint8)
    except Exception as exc:
        raise SkipItem("unreadable", f"{p}: not a decodable image ({_err(exc)})") from exc
    if arr.size == 0:
        raise SkipItem("empty", f"{p}: image has no pixels")
    return arr


def read_video_frames(path: str | Path, n_frames: int) -> list[np.ndarray]:
    """``n_frames`` evenly spaced RGB frames ``(H, W, 3)`` of a video (fewer if the video is shorter)."""
    import av

    p = check_file(path)
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            total = int(stream.frames or 0)
            if total <= 0:  # container without a frame count: count packets first
                total = sum(1 for pkt in container.demux(stream) if pkt.size)
                container.seek(0)
            want = set(np.linspace(0, max(total - 1, 0), num=max(1, min(n_frames, total))).round().astype(int))
            last, frames = max(want), []
            for i, frame in enumerate(container.decode(stream)):
                if i in want:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if i >= last:
                    break
    except Exception as exc:
        raise SkipItem("unreadable", f"{p}: not a decodable video ({_err(exc)})") from exc
    if not frames:
        raise SkipItem("empty", f"{p}: no video frames")
    return frames


def load_visual(path: str | Path, n_frames: int = 4) -> list[np.ndarray]:
    """An image → ``[RGB (H, W, 3)]``; a video (by extension, or when PIL cannot read it) → sampled frames."""
    p = check_file(path)
    if p.suffix.lower() in VIDEO_EXTS:
        return read_video_frames(p, n_frames)
    try:
        return [load_image(p)]
    except SkipItem as img_skip:
        try:
            return read_video_frames(p, n_frames)
        except SkipItem:
            raise img_skip from None
