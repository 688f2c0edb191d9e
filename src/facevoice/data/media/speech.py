"""Is there speech in a waveform? A level-independent test, so quiet recordings are not called silent.

A fixed RMS gate (the previous rule: skip below -60 dBFS) rejects real speech recorded quietly:
clips peaking near -42 dBFS have an RMS near -60 dBFS. The test here does not depend on the
recording level:

1. **no signal**: a peak below :data:`NO_SIGNAL_DB` (-80 dBFS, under the noise of any real
   recording chain; digital zeros are -inf) is silent, whatever else;
2. **voice activity**: the waveform is normalised to -30 dBFS RMS (raised only, as resemblyzer
   does) and WebRTC's VAD (``webrtcvad``, installed with resemblyzer; aggressiveness 3, 30 ms frames
   at 16 kHz, after 150 ms of digital silence on which it settles: it flags the first frames of any
   input while it adapts) flags voiced frames. Without ``webrtcvad`` a
   relative energy detector stands in: a clip whose frame energies vary by less than 6 dB (steady
   noise, hum) has no speech; otherwise frames within 30 dB of the loudest count. Either way a frame
   counts only when its spectrum is not flat (spectral flatness below 0.4: white noise is about
   0.56, the louder frames of real speech below 0.3), since WebRTC's VAD takes loud white noise
   for speech. Band-limited noise can still pass: the test is for silence, not a noise classifier.

An item with less than ``min_voiced_seconds`` of voiced frames (0.12 s: four frames; the shortest
real spoken digit of FSDD has five, steady noise up to three) is ``silent``; the skip detail and
the notes of embedded items carry the level, the peak and the voiced duration, so the decision can
be checked either way.
"""

from __future__ import annotations

import numpy as np

from facevoice.core.types import SkipItem

__all__ = ["NO_SIGNAL_DB", "check_speech", "level_db", "peak_db", "spectral_flatness", "voiced_seconds"]

NO_SIGNAL_DB = -80.0
_FRAME_MS = 30
_NORM_DB = -30.0
MAX_FLATNESS = 0.4  # white noise ~0.56; 95-100 % of the louder half of real speech frames < 0.3
_WARMUP_FRAMES = 5  # zero frames fed to WebRTC's VAD first: it flags about 4 frames of any start as speech


def level_db(wave: np.ndarray) -> float:
    """RMS level in dBFS (digital silence → about -240)."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if wave.size else 0.0
    return 20.0 * float(np.log10(rms + 1e-12))


def peak_db(wave: np.ndarray) -> float:
    """Peak level in dBFS (digital silence → about -240)."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return 20.0 * float(np.log10(peak + 1e-12))


def _normalised(wave: np.ndarray) -> np.ndarray:
    gain_db = _NORM_DB - level_db(wave)
    if gain_db <= 0:
        return wave
    return np.clip(wave * 10.0 ** (gain_db / 20.0), -1.0, 1.0)


def _frames(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    n = sample_rate * _FRAME_MS // 1000
    usable = wave.size - wave.size % n
    return wave[:usable].reshape(-1, n)


def _webrtc_flags(wave: np.ndarray, sample_rate: int) -> np.ndarray | None:
    import warnings

    try:
        with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import webrtcvad
    except ImportError:
        return None
    if sample_rate not in (8000, 16000, 32000, 48000):
        return None
    n = sample_rate * _FRAME_MS // 1000
    warmup = np.zeros(_WARMUP_FRAMES * n)  # the VAD flags the first frames of any input while it adapts
    pcm = np.round(np.concatenate([warmup, _normalised(wave)]) * 32767).astype("<i2")
    frames = _frames(pcm, sample_rate)
    vad = webrtcvad.Vad(3)
    return np.array([vad.is_speech(f.tobytes(), sample_rate) for f in frames], dtype=bool)[_WARMUP_FRAMES:]


def _energy_flags(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    frames = _frames(wave.astype(np.float64), sample_rate)
    if not len(frames):
        return np.zeros(0, dtype=bool)
    energy = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-24)
    top = energy.max()
    if top - np.percentile(energy, 10) < 6.0:  # steady: noise or hum, not speech
        return np.zeros(len(frames), dtype=bool)
    return energy > top - 30.0


def spectral_flatness(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per 30 ms frame: geometric over arithmetic mean of the power spectrum (white noise about 0.56,
    voiced speech mostly below 0.3: it has harmonics and formants)."""
    frames = _frames(wave.astype(np.float64), sample_rate)
    if not len(frames):
        return np.zeros(0)
    power = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1))[:, 1:] ** 2 + 1e-20
    return np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)


def voiced_seconds(wave: np.ndarray, sample_rate: int) -> tuple[float, str]:
    """Seconds of voiced 30 ms frames and the detector used (``webrtcvad`` or ``energy``).

    A frame counts only if its spectrum has structure (flatness below :data:`MAX_FLATNESS`): WebRTC's
    VAD calls loud white noise speech.
    """
    flags = _webrtc_flags(wave, sample_rate)
    method = "webrtcvad"
    if flags is None:
        flags, method = _energy_flags(wave, sample_rate), "energy"
    flags = flags & (spectral_flatness(wave, sample_rate)[: len(flags)] < MAX_FLATNESS)
    return float(flags.sum()) * _FRAME_MS / 1000.0, method


def check_speech(
    wave: np.ndarray,
    sample_rate: int,
    *,
    min_seconds: float = 0.0,
    min_voiced_seconds: float = 0.12,
    silence_db: float | None = None,
) -> dict[str, float | str]:
    """Raise ``SkipItem`` (``too_short`` / ``silent``) unless ``wave`` holds speech; return notes for the item.

    ``silence_db``: an optional absolute RMS gate (dBFS) on top of the level-independent test (off by
    default: it is what rejected quiet real speech). Notes: ``seconds``, ``level_db``, ``peak_db``,
    ``voiced_seconds`` and the ``vad`` used.
    """
    seconds = wave.size / float(sample_rate)
    if seconds < min_seconds:
        raise SkipItem("too_short", f"{seconds:.2f} s of audio < {min_seconds:g} s")
    level, peak = level_db(wave), peak_db(wave)
    if peak < NO_SIGNAL_DB:
        raise SkipItem("silent", f"no signal: peak {peak:.1f} dBFS < {NO_SIGNAL_DB:g} dBFS over {seconds:.2f} s")
    if silence_db is not None and level < silence_db:
        raise SkipItem("silent", f"RMS level {level:.1f} dBFS < silence_db {silence_db:g}")
    if min_voiced_seconds <= 0:  # the voice-activity test is off: any signal counts
        return {"seconds": round(seconds, 3), "level_db": round(level, 1), "peak_db": round(peak, 1)}
    voiced, method = voiced_seconds(wave, sample_rate)
    if voiced < min_voiced_seconds:
        raise SkipItem(
            "silent",
            f"no speech found ({method}): {voiced:.2f} s voiced of {seconds:.2f} s < {min_voiced_seconds:g} s "
            f"(level {level:.1f} dBFS, peak {peak:.1f} dBFS)",
        )
    return {
        "seconds": round(seconds, 3),
        "level_db": round(level, 1),
        "peak_db": round(peak, 1),
        "voiced_seconds": round(voiced, 2),
        "vad": method,
    }
