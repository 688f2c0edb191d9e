"""Per-encoder option lists (issue 16 items 5 and 14): every --opt name checked against the encoder, one-line errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from facevoice.encoders import ENCODERS
from facevoice.extract.build import build_encoder, resolve_encoder

NOT_OPTIONS = {"self", "source", "family", "device"}  # given by --source / --device, not --opt


def _encoder_class(name: str):
    entry = ENCODERS.get(name)
    return entry if inspect.isclass(entry) else None


@pytest.mark.parametrize("name", ENCODERS.names())
def test_option_list_matches_the_constructor(name):
    entry = ENCODERS.get(name)
    options = getattr(entry, "OPTIONS", None)
    assert options, f"{name}: no OPTIONS list beside the encoder"
    cls = _encoder_class(name) or next(
        c for c in (ENCODERS.get("hf-audio"), ENCODERS.get("hf-vision")) if c.OPTIONS is options
    )
    params = inspect.signature(cls.__init__).parameters
    keywords = {p for p, v in params.items() if v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)} - NOT_OPTIONS
    assert set(options) == keywords
    assert all(isinstance(v, str) and v for v in options.values())


def test_unknown_encoder_is_one_line_with_a_suggestion():
    with pytest.raises(ValueError) as err:
        resolve_encoder("resemblizer")  # was a KeyError traceback
    msg = str(err.value)
    assert "unknown encoder 'resemblizer'" in msg and "did you mean 'resemblyzer'" in msg and "\n" not in msg


def test_unknown_option_lists_the_valid_ones_without_building_the_model():
    with pytest.raises(ValueError) as err:
        build_encoder("resemblyzer", options={"sample_rate": 8000})  # was a TypeError traceback
    msg = str(err.value)
    assert "no option 'sample_rate'" in msg and "min_voiced_seconds" in msg and "\n" not in msg
    with pytest.raises(ValueError, match="encoder 'wavlm' has no option 'pooling'"):
        build_encoder("wavlm", "whatever", {"pooling": "mean"})


def test_dlib_takes_the_documented_tight_crop_option(shared_data):
    # docs/extract.md advised detect_faces=false for tight crops; dlib-face answered with a TypeError
    enc = build_encoder("dlib-face", options={"detect_faces": False})
    item = enc.load(shared_data / "orl_faces" / "s1" / "1.pgm")
    assert item.notes == {"face_source": "whole_image"} and item.parts[0].shape == (150, 150, 3)
    assert "always_whole" in enc.tag and enc.tag != build_encoder("dlib-face").tag
    emb = enc.encode(item.parts).embeddings
    assert emb.shape == (1, 128) and np.isfinite(emb).all()
    with pytest.raises(ValueError, match=r"encoder 'dlib-face' \(upsample=9\): upsample must be"):
        build_encoder("dlib-face", options={"upsample": 9})
    with pytest.raises(ValueError, match="detect_faces must be true or false"):
        build_encoder("dlib-face", options={"detect_faces": "maybe"})
