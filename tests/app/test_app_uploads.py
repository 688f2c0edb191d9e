"""Upload checks (size, content, modality, duration) and the host warning, on real files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from facevoice.app import UploadLimits, check_upload, host_warning

pytestmark = pytest.mark.shared_data


@pytest.fixture
def files(shared_data, tmp_path):
    import soundfile as sf

    clip = shared_data / "voxceleb1_sample/wav/id10001/1zcIwhmdeo4/00001.wav"  # 253 KB, about 8 s
    face = shared_data / "voxceleb1_sample/vggface/A.J._Buckley/a_j__buckley_00000003.jpg"
    out = {"clip": tmp_path / "clip.wav", "face": tmp_path / "face.jpg", "text": tmp_path / "notes.txt"}
    shutil.copy(clip, out["clip"])
    shutil.copy(face, out["face"])
    out["text"].write_text("hello")
    out["empty"] = tmp_path / "empty.wav"
    out["empty"].write_bytes(b"")
    out["long"] = tmp_path / "long.flac"
    sf.write(out["long"], np.random.default_rng(0).uniform(-0.1, 0.1, 16000 * 70).astype(np.float32), 16000)
    return out


def test_good_uploads_pass(files):
    limits = UploadLimits()
    assert check_upload(files["clip"], "voice", limits) is None
    assert check_upload(files["face"], "face", limits) is None


def test_bad_uploads_get_a_message_naming_the_file(files):
    limits = UploadLimits(max_mb=20, max_seconds=60)
    assert check_upload(files["text"], "voice", limits) == (
        "notes.txt: not an image, audio or video file. Upload a voice clip (wav, flac, m4a, mp3, ...) or a video."
    )
    assert check_upload(files["empty"], "voice", limits).startswith("empty.wav: the file is empty.")
    assert check_upload(files["face"], "voice", limits).startswith("face.jpg: a picture without sound.")
    assert check_upload(files["clip"], "face", limits).startswith("clip.wav: audio without a picture.")
    assert check_upload(files["long"], "voice", limits) == "long.flac: 70 s is longer than the 60 s limit."
    assert check_upload(files["clip"], "voice", UploadLimits(max_mb=0.1)) == (
        "clip.wav: 0.3 MB is over the 0.1 MB upload limit."
    )
    assert check_upload(None, "face", limits).startswith("Upload a face picture")
    assert str(files["clip"].parent) not in check_upload(files["text"], "voice", limits)  # no server paths


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="must be positive"):
        UploadLimits(max_mb=0)


def test_only_loopback_hosts_are_quiet():
    for host in ("127.0.0.1", "localhost", "::1"):
        assert host_warning(host) is None
    assert host_warning("0.0.0.0").startswith("warning: serving on 0.0.0.0, not 127.0.0.1")
