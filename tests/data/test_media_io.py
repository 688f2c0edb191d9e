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


def test_fsdd_wav_resampled_to_16k(shared_data):
    path = shared_data / "fsdd_voices" / "0_george_0.wav"
    raw, sr = sf.read(path)
    assert sr == 8000
    x = load_audio(path, 16000)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 2 * len(raw)) <= 2
    assert audio_level_db(x) > -40


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
    _write_av(tmp_path / "v.mp4", video_frames=12)
    frames = read_video_frames(tmp_path / "v.mp4", 4)
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3)
    means = [f.mean() for f in frames]
    assert means == sorted(means) and means[-1] - means[0] > 150  # first and last frames of a ramp
    assert len(load_visual(tmp_path / "v.mp4", 3)) == 3


def test_grey_pgm_becomes_rgb(shared_data):
    img = load_image(shared_data / "orl_faces" / "s1" / "1.pgm")
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


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
