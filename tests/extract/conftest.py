"""Fixtures for extraction tests: small media folders (real-format files, some deliberately broken)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from extract_helpers import write_faces, write_voices

from facevoice.encoders.hf.common import tiny_config


@pytest.fixture
def voice_folder(tmp_path) -> Path:
    """``root/<id>/voices/*.wav`` for 4 identities plus broken files under identity ``broken``."""
    root = tmp_path / "data"
    for k in range(4):
        write_voices(root / f"id{k}" / "voices", 3, seed=k)
        write_faces(root / f"id{k}" / "faces", 2, seed=10 + k)
    bad = root / "broken" / "voices"
    bad.mkdir(parents=True)
    (bad / "zero.wav").write_bytes(b"")
    (bad / "garbage.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    good = (root / "id0" / "voices" / "000.wav").read_bytes()
    (bad / "truncated.wav").write_bytes(good[:50])
    sf.write(bad / "silent.wav", np.zeros(16000, np.float32), 16000)
    (bad / "image.wav").write_bytes((root / "id0" / "faces" / "000.png").read_bytes())
    (bad / "voice.txt").write_bytes(good)  # wrong extension, valid audio: embedded
    badf = root / "broken" / "faces"
    badf.mkdir(parents=True)
    (badf / "zero.jpg").write_bytes(b"")
    (badf / "text.jpg").write_bytes(b"not an image" * 30)
    (badf / "audio.jpg").write_bytes(good)
    return root


@pytest.fixture
def tiny_wavlm_json(tmp_path) -> Path:
    path = tmp_path / "tiny_wavlm.json"
    path.write_text(json.dumps(tiny_config("wavlm", seed=0)))
    return path
