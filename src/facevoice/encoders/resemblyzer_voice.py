"""Resemblyzer (GE2E speaker encoder, 256-d, weights shipped inside the wheel) as a voice encoder.

Preprocessing follows resemblyzer's own: 16 kHz mono, volume normalised to -30 dBFS (increase only),
long silences removed by WebRTC VAD. An utterance embedding is the L2-normalised mean of the
embeddings of 1.6 s partial windows; the partial windows of a whole batch go through the LSTM in one
forward pass (the LSTM treats every window independently, so batching does not change the result).

Whether an item holds speech does not depend on its recording level
(:func:`facevoice.data.media.speech.check_speech`): no signal (peak below -80 dBFS), or less than
``min_voiced_seconds`` of voiced frames, is ``silent``; quiet real speech is embedded.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.core.hashing import file_sha256
from facevoice.core.types import LoadedItem, SkipItem
from facevoice.data.media.io import load_audio
from facevoice.data.media.speech import check_speech
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput
from facevoice.encoders.hf.common import resolve_device


def _import_resemblyzer():
    with warnings.catch_warnings():  # resemblyzer imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import resemblyzer

    return resemblyzer


@ENCODERS.register("resemblyzer")
class ResemblyzerEncoder(Encoder):
    """GE2E speaker encoder from ``resemblyzer`` → 256-d L2-normalised embeddings.

    ``min_seconds``: shorter files are ``too_short``; ``min_voiced_seconds``: items with less voiced
    speech (level-independent VAD) are ``silent`` (as are items with no signal at all);
    ``silence_db``: an optional fixed RMS gate in dBFS (off by default: it rejects quiet real speech).
    ``rate``/``min_coverage``: resemblyzer's partial-window settings.
    """

    name = "resemblyzer"
    modality = "voice"
    sample_rate = 16000
    OPTIONS = {
        "min_seconds": "seconds; shorter files are too_short (default 0.15)",
        "min_voiced_seconds": "seconds of speech the VAD must find (default 0.12)",
        "silence_db": "optional fixed RMS gate in dBFS (default off)",
        "rate": "partial windows per second (default 1.3)",
        "min_coverage": "last partial window coverage (default 0.75)",
        "weights_path": "a resemblyzer .pt file (default: the packaged weights)",
    }

    def __init__(
        self,
        device: str = "cpu",
        silence_db: float | None = None,
        rate: float = 1.3,
        min_coverage: float = 0.75,
        weights_path: str | Path | None = None,
        min_seconds: float = 0.15,
        min_voiced_seconds: float = 0.12,
    ) -> None:
        import torch

        rz = _import_resemblyzer()
        self._audio = rz.audio
        default = Path(rz.__file__).resolve().parent / "pretrained.pt"
        self.weights_path = Path(weights_path) if weights_path else default
        if not self.weights_path.is_file():
            raise FileNotFoundError(f"resemblyzer weights not found: {self.weights_path}")
        self.model = rz.VoiceEncoder(device=resolve_device(device), verbose=False, weights_fpath=self.weights_path)
        self.model.eval()
        self._torch = torch
        self.silence_db = None if silence_db is None else float(silence_db)
        self.rate, self.min_coverage = float(rate), float(min_coverage)
        self.min_seconds, self.min_voiced_seconds = float(min_seconds), float(min_voiced_seconds)
        self._hash = file_sha256(self.weights_path)
        self._audio.wav_to_mel_spectrogram(np.zeros(1600, np.float32))  # librosa loads lazily: pay it here, once

    @property
    def dim(self) -> int:
        return 256

    @property
    def weights_hash(self) -> str:
        return self._hash

    def options(self) -> dict[str, Any]:
        return {"rate": self.rate, "min_coverage": self.min_coverage, "vad": "webrtc3"}

    def load(self, path: str | Path) -> LoadedItem:
        """Audio file → ``LoadedItem([wave (S,)])`` at 16 kHz after resemblyzer's normalisation and VAD."""

        wave = load_audio(path, self.sample_rate)
        notes = check_speech(
            wave,
            self.sample_rate,
            min_seconds=self.min_seconds,
            min_voiced_seconds=self.min_voiced_seconds,
            silence_db=self.silence_db,
        )
        wave = np.clip(self._audio.preprocess_wav(wave, source_sr=None), -1.0, 1.0).astype(np.float32)
        if wave.size == 0:
            raise SkipItem("silent", f"resemblyzer's VAD kept nothing of {notes['seconds']:.2f} s")
        return LoadedItem([wave], {**notes, "kept_seconds": round(wave.size / self.sample_rate, 3)})

    def _mel_partials(self, wave: np.ndarray) -> np.ndarray:
        """Waveform ``(S,)`` → partial mel windows ``(P, 160, 40)``."""
        wav_slices, mel_slices = self.model.compute_partial_slices(len(wave), self.rate, self.min_coverage)
        need = wav_slices[-1].stop
        if need >= len(wave):
            wave = np.pad(wave, (0, need - len(wave)), "constant")
        mel = self._audio.wav_to_mel_spectrogram(wave)
        return np.stack([mel[s] for s in mel_slices]).astype(np.float32)

    def encode(self, inputs: list[np.ndarray], layers: bool = False) -> EncoderOutput:
        """``B`` preprocessed waveforms → ``(B, 256)`` L2-normalised embeddings (no per-layer outputs)."""
        if not inputs:
            return EncoderOutput(np.zeros((0, self.dim), np.float32), None)
        partials = [self._mel_partials(w) for w in inputs]
        counts = [len(p) for p in partials]
        torch = self._torch
        with torch.inference_mode():
            mels = torch.from_numpy(np.concatenate(partials)).to(self.model.device)
            emb = self.model(mels).float().cpu().numpy()
        out = np.empty((len(inputs), self.dim), np.float32)
        start = 0
        for i, n in enumerate(counts):
            raw = emb[start : start + n].mean(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):  # zero norm → non-finite row, skipped by the runner
                out[i] = raw / np.linalg.norm(raw)
            start += n
        return EncoderOutput(out, None)
