"""Short display names of encoder tags for figures and tables (issue 16 item 16)."""

from __future__ import annotations

import warnings

import pandas as pd
from PIL import Image

from facevoice.analysis.crossmodal.figures import cka_heatmap
from facevoice.core.tags import display_name, display_names

DLIB = "dlib-face:fallback=skip,jitters=0,landmarks=5,padding=0.25,upsample=auto,video_frames=4#1f2e3d4c5b6a7988"
DLIB_WHOLE = "dlib-face:fallback=always_whole,jitters=0,landmarks=5,padding=0.25,video_frames=4#1f2e3d4c5b6a7988"
RZ = "resemblyzer:min_coverage=0.75,rate=1.3,vad=webrtc3#39373b86598fa3da"
WAVLM6 = "wavlm:layer=6,pool=masked_mean,source=microsoft/wavlm-base-plus,sr=16000#aaaa"
WAVLM12 = "wavlm:layer=12,pool=masked_mean,source=microsoft/wavlm-base-plus,sr=16000#aaaa"


def test_names_keep_only_what_tells_tags_apart():
    assert display_name(RZ) == "resemblyzer" and display_name("csv:/data/feats/face_train.csv") == "csv:face_train.csv"
    names = display_names([DLIB, DLIB_WHOLE, RZ, WAVLM6, WAVLM12])
    assert names[RZ] == "resemblyzer" and names[WAVLM6] == "wavlm layer=6" and names[WAVLM12] == "wavlm layer=12"
    assert (
        names[DLIB] == "dlib-face fallback=skip upsample=auto"
        and names[DLIB_WHOLE] == "dlib-face fallback=always_whole"
    )
    same_opts = display_names(["x:a=1#111111aa", "x:a=1#222222bb"])
    assert same_opts == {"x:a=1#111111aa": "x #111111", "x:a=1#222222bb": "x #222222"}
    assert display_names(["plain-name"]) == {"plain-name": "plain-name"}


def test_heatmap_of_real_tags_is_not_clipped(tmp_path):
    table = pd.DataFrame({"face_encoder": [DLIB, DLIB_WHOLE], "voice_encoder": [RZ, RZ], "cka_linear": [0.91, 0.914]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Tight layout not applied" was the symptom of clipped labels
        path = cka_heatmap(table, tmp_path / "h.png")
    width, height = Image.open(path).size
    assert width > 400 and height > 200
