"""probe_media tells image / audio / video from the content (not the extension), with durations."""

from __future__ import annotations

import av
import numpy as np
import pytest

from facevoice.core.types import SkipItem
from facevoice.data.media.probe import probe_media


def test_kinds_by_content(tmp_path):
    import soundfile as sf
    from PIL import Image

    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "pic.png")
    sf.write(tmp_path / "tone.wav", np.zeros(16000 * 3, np.float32), 16000)
    (tmp_path / "tone.wav").rename(tmp_path / "tone.jpg")  # a wav named .jpg
    pic = probe_media(tmp_path / "pic.png")
    assert (pic.kind, pic.width, pic.height, pic.modalities) == ("image", 30, 20, ("face",))
    tone = probe_media(tmp_path / "tone.jpg")
    assert (tone.kind, tone.modalities) == ("audio", ("voice",)) and tone.duration_s == pytest.approx(3.0)


def test_video_with_sound_gives_both_modalities(tmp_path):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=5)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        aus = c.add_stream("aac", rate=16000)
        for _ in range(10):
            c.mux(vs.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        c.mux(vs.encode())
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 32000), np.float32), format="flt", layout="mono")
        frame.sample_rate = 16000
        c.mux(aus.encode(frame))
        c.mux(aus.encode())
    info = probe_media(path)
    assert (info.kind, info.modalities, info.width) == ("video", ("face", "voice"), 64)
    assert 1.5 < info.duration_s < 2.5


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "empty"), (b"hello, not media", "unreadable"), (None, "missing")]
)
def test_non_media_is_a_skip_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "thing.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SkipItem) as exc:
        probe_media(path)
    assert exc.value.reason == reason and str(path) in exc.value.detail
