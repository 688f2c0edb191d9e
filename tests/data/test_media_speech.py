"""Truncated WAVs (header frames vs data) and the level-independent speech test (issue 16, items 3 and 4)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from facevoice.core.types import SkipItem
from facevoice.data.media.io import load_audio
from facevoice.data.media.riff import wav_frames
from facevoice.data.media.speech import check_speech, level_db, voiced_seconds


def _speech(shared_data, n: int = 3) -> np.ndarray:
    """Three real FSDD digits of one speaker, back to back, at 16 kHz (about 1.2 s)."""
    files = [shared_data / "fsdd_voices" / f"{d}_jackson_0.wav" for d in range(n)]
    return np.concatenate([load_audio(f, 16000) for f in files])


def _scaled(wave: np.ndarray, rms_db: float) -> np.ndarray:
    return (wave * 10 ** ((rms_db - level_db(wave)) / 20)).astype(np.float32)


def test_truncated_wav_is_refused_with_both_frame_counts(tmp_path):
    # the case: a header declaring 48,000 frames over 15,988 frames of data
    x = (0.1 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32)
    sf.write(tmp_path / "full.wav", x, 16000, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: 44 + 2 * 15988])
    assert sf.info(tmp_path / "cut.wav").frames == 15988  # what libsndfile would have decoded, silently
    found = wav_frames(tmp_path / "cut.wav")
    assert (found.declared, found.present, found.truncated) == (48000, 15988, True)
    with pytest.raises(SkipItem) as err:
        load_audio(tmp_path / "cut.wav", 16000)
    assert err.value.reason == "truncated"
    assert str(tmp_path / "cut.wav") in err.value.detail and "48000" in err.value.detail and "15988" in err.value.detail
    assert len(load_audio(tmp_path / "full.wav", 16000)) == 48000  # the whole file still loads


def test_wav_header_parser_on_other_layouts(tmp_path):
    x = np.zeros((800, 2), np.float32)
    sf.write(tmp_path / "stereo24.wav", x, 44100, subtype="PCM_24")  # block_align 6, WAVE_FORMAT_EXTENSIBLE
    assert wav_frames(tmp_path / "stereo24.wav").declared == wav_frames(tmp_path / "stereo24.wav").present == 800
    streamed = bytearray((tmp_path / "stereo24.wav").read_bytes())  # a pipe writer's "unknown length" data size
    pos = streamed.find(b"data")
    streamed[pos + 4 : pos + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "streamed.wav").write_bytes(bytes(streamed))
    assert wav_frames(tmp_path / "streamed.wav") is None
    sf.write(tmp_path / "a.flac", x, 44100)
    assert wav_frames(tmp_path / "a.flac") is None
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    assert wav_frames(tmp_path / "junk.wav") is None


def test_quiet_real_speech_is_kept_whatever_its_level(shared_data):
    speech = _speech(shared_data)
    for rms_db in (-20.0, -45.0, -62.0):  # -62 dBFS RMS: rejected as silent by the old fixed -60 dB gate
        notes = check_speech(_scaled(speech, rms_db), 16000)
        assert notes["level_db"] == pytest.approx(rms_db, abs=0.2)
        assert notes["voiced_seconds"] > 0.5 and notes["vad"] == "webrtcvad"
    with pytest.raises(SkipItem, match="RMS level"):  # the fixed gate is still available on request
        check_speech(_scaled(speech, -62.0), 16000, silence_db=-60.0)


def test_silence_noise_and_short_clips_are_not_speech(shared_data):
    rng = np.random.default_rng(1)
    with pytest.raises(SkipItem, match="no signal") as err:
        check_speech(np.zeros(16000, np.float32), 16000)
    assert err.value.reason == "silent"
    for db in (-70.0, -30.0, -20.0):  # steady noise at any level (WebRTC alone calls loud white noise speech)
        with pytest.raises(SkipItem, match="no speech found") as err:
            check_speech((rng.standard_normal(32000) * 10 ** (db / 20)).astype(np.float32), 16000)
        assert err.value.reason == "silent"
    with pytest.raises(SkipItem) as err:
        check_speech(_speech(shared_data)[:800], 16000, min_seconds=0.15)  # 50 ms
    assert err.value.reason == "too_short" and "0.05 s" in err.value.detail


def test_energy_detector_without_webrtcvad(shared_data, monkeypatch):
    import facevoice.data.media.speech as speech_mod

    monkeypatch.setattr(speech_mod, "_webrtc_flags", lambda wave, sr: None)
    voiced, method = voiced_seconds(_scaled(_speech(shared_data), -62.0), 16000)
    assert method == "energy" and voiced > 0.5
    noise = (np.random.default_rng(2).standard_normal(32000) * 0.01).astype(np.float32)
    assert voiced_seconds(noise, 16000)[0] == 0.0


def test_resemblyzer_embeds_quiet_speech_and_notes_its_level(tmp_path, shared_data):
    from facevoice.encoders import create_encoder

    sf.write(tmp_path / "quiet.wav", _scaled(_speech(shared_data), -62.0), 16000, subtype="PCM_16")
    item = create_encoder("resemblyzer").load(tmp_path / "quiet.wav")
    assert item.notes["level_db"] < -60 and item.notes["voiced_seconds"] > 0.5
