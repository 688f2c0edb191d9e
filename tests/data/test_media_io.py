"""Audio / image / video readers: real files, container formats, and broken files → skip reasons."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from facevoice.core.types import SkipItem
from facevoice.data.media.io import audio_level_db, check_file, load_audio, load_image, load_visual, read_video_frames


def _write_av(path, seconds=1.0, rate=22050, video_frames=0):
    """A real AAC (and optionally MPEG-4 video) file written with av."""
    import av

    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    with av.open(str(path), "w") as out:
        vs = None
        if video_frames:
            vs = out.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("aac", rate=rate)
        a.layout = "mono"
        if vs is not None:
            for i in range(video_frames):
                img = np.full((48, 64, 3), 20 * i, np.uint8)
                for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(p)
            for p in vs.encode(None):
                out.mux(p)
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = rate
        for p in list(a.encode(frame)) + list(a.encode(None)):
            out.mux(p)


def _reason(fn, *args):
    with pytest.raises(SkipItem) as err:
        fn(*args)
    return err.value.reason


def _pcm16_samples(path) -> tuple[np.ndarray, int]:
    """A mono 16-bit PCM WAV read with the standard library only: samples / 32768 and the rate."""
    import wave

    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float64) / 32768.0, w.getframerate()


def test_fsdd_wav_resampled_to_16k(shared_data):
    path = shared_data / "fsdd_voices" / "0_george_0.wav"
    raw, sr = _pcm16_samples(path)
    assert sr == 8000
    x = load_audio(path, 16000)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 2 * len(raw)) <= 2
    # the same waveform: every second output sample is an input sample (2x upsampling keeps the
    # originals up to the resampling filter's error), and the level is the file's own level
    even = x[: 2 * len(raw) : 2].astype(np.float64)
    n = min(len(even), len(raw))
    assert np.corrcoef(even[:n], raw[:n])[0, 1] > 0.99
    assert np.max(np.abs(even[:n] - raw[:n])) < 0.05 * np.max(np.abs(raw))
    want_db = 20 * np.log10(np.sqrt(np.mean(raw**2)))
    assert audio_level_db(x) == pytest.approx(want_db, abs=0.5)


def test_stereo_is_mixed_to_mono(tmp_path):
    st = np.stack([np.full(1600, 0.5), np.full(1600, -0.1)], axis=1).astype(np.float32)
    sf.write(tmp_path / "st.flac", st, 16000)
    x = load_audio(tmp_path / "st.flac", 16000)
    np.testing.assert_allclose(x, 0.2, atol=1e-3)


def test_m4a_and_mp4_audio_via_av(tmp_path):
    _write_av(tmp_path / "a.m4a")
    _write_av(tmp_path / "v.mp4", video_frames=12)
    for name in ("a.m4a", "v.mp4"):
        x = load_audio(tmp_path / name, 16000)
        assert 15000 < len(x) < 18500  # 1 s at 16 kHz, plus the codec's priming samples
        rms = float(np.sqrt(np.mean(x[2000:-2000] ** 2)))
        assert 0.17 < rms < 0.25  # a 0.3-amplitude tone survives decoding and resampling


def test_video_frames_evenly_spaced(tmp_path):
    _write_av(tmp_path / "v.mp4", video_frames=12)  # frame i is a flat grey of level 20 i
    frames = read_video_frames(tmp_path / "v.mp4", 4)
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3)
    # 4 of 12 frames evenly spaced: indices round(linspace(0, 11, 4)) = 0, 4, 7, 11
    np.testing.assert_allclose([f.mean() for f in frames], [0, 80, 140, 220], atol=6)
    np.testing.assert_allclose([f.mean() for f in load_visual(tmp_path / "v.mp4", 3)], [0, 120, 220], atol=6)


def _binary_pgm(path) -> np.ndarray:
    """A binary (P5) 8-bit PGM parsed by hand: header fields (comments skipped), then raw bytes."""
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and int(fields[3]) == 255
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1 : pos + 1 + w * h], dtype=np.uint8).reshape(h, w)


def test_grey_pgm_becomes_rgb(shared_data):
    path = shared_data / "orl_faces" / "s1" / "1.pgm"
    img = load_image(path)
    grey = _binary_pgm(path)
    assert img.dtype == np.uint8 and img.shape == (*grey.shape, 3)
    for c in range(3):  # every channel holds the file's grey levels, pixel for pixel
        np.testing.assert_array_equal(img[..., c], grey)


def test_broken_files_give_reasons(tmp_path, shared_data):
    good = (shared_data / "fsdd_voices" / "0_george_0.wav").read_bytes()
    (tmp_path / "zero.wav").write_bytes(b"")
    (tmp_path / "trunc.wav").write_bytes(good[:30])
    (tmp_path / "text.jpg").write_bytes(b"this is not an image at all" * 20)
    (tmp_path / "trunc.jpg").write_bytes((shared_data / "orl_faces" / "s1" / "1.pgm").read_bytes()[:40])
    (tmp_path / "dir.wav").mkdir()
    assert _reason(load_audio, tmp_path / "zero.wav", 16000) == "empty"
    assert _reason(load_audio, tmp_path / "trunc.wav", 16000) in {"unreadable", "empty"}
    assert _reason(load_audio, tmp_path / "text.jpg", 16000) == "unreadable"
    assert _reason(load_audio, tmp_path / "nothere.wav", 16000) == "missing"
    assert _reason(load_audio, tmp_path / "dir.wav", 16000) == "unreadable"
    assert _reason(load_image, tmp_path / "text.jpg") == "unreadable"
    assert _reason(load_image, tmp_path / "trunc.jpg") == "unreadable"
    assert _reason(load_visual, tmp_path / "zero.wav") == "empty"
    assert _reason(load_visual, shared_data / "fsdd_voices" / "0_george_0.wav") == "unreadable"


def test_wrong_extension_is_read_by_content(tmp_path, shared_data):
    (tmp_path / "voice.jpg").write_bytes((shared_data / "fsdd_voices" / "0_george_0.wav").read_bytes())
    (tmp_path / "face.wav").write_bytes((shared_data / "orl_faces" / "s1" / "1.pgm").read_bytes())
    assert len(load_audio(tmp_path / "voice.jpg", 16000)) > 1000
    assert load_image(tmp_path / "face.wav").shape[2] == 3


def test_unreadable_permissions(tmp_path):
    path = tmp_path / "locked.wav"
    sf.write(path, np.full(1600, 0.1, np.float32), 16000)
    path.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: the file must simply load
            assert check_file(path) == path
        else:
            assert _reason(load_audio, path, 16000) == "permission"
    finally:
        path.chmod(0o644)
