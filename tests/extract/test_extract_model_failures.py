"""The model's own failures on single items: a non-finite output (encode_error) and a video with no face."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from facevoice.core.types import LoadedItem, SkipItem
from facevoice.data.corpora.folder import prepare_folder
from facevoice.encoders.base import Encoder, EncoderOutput
from facevoice.extract import extract


class MeanEncoder(Encoder):
    """A real (if trivial) voice encoder: mean and spread of the waveform; a clip whose first sample is
    exactly 0.5 makes it return NaN, as a model overflowing on one input would."""

    name, modality, sample_rate = "mean-test", "voice", 16000

    @property
    def dim(self) -> int:
        return 2

    @property
    def weights_hash(self) -> str:
        return "0" * 64

    def options(self):
        return {}

    def load(self, path):
        x, _ = sf.read(path, dtype="float32")
        return LoadedItem([x])

    def encode(self, inputs, layers=False):
        out = np.array([[x.mean(), x.std()] if x[0] != 0.5 else [np.nan, 0.0] for x in inputs], np.float32)
        return EncoderOutput(out)


def test_non_finite_output_is_an_encode_error_and_the_batch_survives(tmp_path):
    for k in range(2):
        (tmp_path / "d" / f"p{k}" / "voices").mkdir(parents=True)
        for j in range(3):
            x = np.full(800, 0.1 * (j + 1), np.float32)
            if (k, j) == (1, 1):
                x[0] = 0.5
            sf.write(tmp_path / "d" / f"p{k}" / "voices" / f"{j}.wav", x, 16000, subtype="FLOAT")
    prepare_folder(tmp_path / "d", tmp_path / "m.parquet", split="test")
    res = extract(tmp_path / "m.parquet", MeanEncoder(), tmp_path / "s", batch_size=4, progress=False)
    skips = pd.read_csv(tmp_path / "s" / "skip_report.csv")
    assert res.embedded == 5 and skips["item_id"].tolist() == ["voice:p1/1.wav"]
    assert skips["reason"].tolist() == ["encode_error"] and "non-finite" in skips["detail"].iloc[0]


def test_a_video_without_a_face_in_any_frame(tmp_path):
    import av

    from facevoice.encoders import create_encoder

    path = tmp_path / "wall.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 96, 96, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((96, 96, 3), 40 * i, np.uint8), format="rgb24")
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    with pytest.raises(SkipItem) as err:
        create_encoder("dlib-face", video_frames=3).load(path)
    assert err.value.reason == "no_face" and "any of 3 frames" in err.value.detail
