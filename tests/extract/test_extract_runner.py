"""extract(): skip report on broken files, per-layer store, resume, equality with direct encoding."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from facevoice.data.corpora.folder import prepare_folder
from facevoice.encoders import create_encoder
from facevoice.encoders.hf.common import tiny_config
from facevoice.extract import extract
from facevoice.store import EmbeddingStore


def test_broken_voice_files_are_reported_not_dropped(tmp_path, voice_folder):
    manifest = prepare_folder(voice_folder, tmp_path / "m.parquet", split="test")
    enc = create_encoder("wavlm", source=tiny_config("wavlm"))
    res = extract(
        tmp_path / "m.parquet", enc, tmp_path / "store", batch_size=3, shard_size=4, num_workers=2, progress=False
    )
    voices = manifest[manifest["modality"] == "voice"]
    store = EmbeddingStore.open(tmp_path / "store", encoder_tag=enc.tag)
    skips = pd.read_csv(tmp_path / "store" / "skip_report.csv")
    assert len(store) + len(skips) == len(voices) == res.embedded + res.skipped
    by_file = {p.split("/")[-1]: r for p, r in zip(skips["path"], skips["reason"], strict=True)}
    assert by_file["zero.wav"] == "empty"
    assert by_file["garbage.wav"] == "unreadable"
    assert by_file["truncated.wav"] == "truncated"  # header frames > data: was embedded or "empty" by chance
    assert by_file["silent.wav"] == "silent"
    assert by_file["image.wav"] == "unreadable"
    assert "voice.txt" not in by_file  # valid audio under a wrong extension is embedded
    assert skips["detail"].str.len().min() > 0
    report = json.loads((tmp_path / "store" / "extract_report.json").read_text())
    assert report["pending"] == 0 and report["skipped"] == len(skips) and report["embedded"] == len(store)
    assert res.items_per_second > 0
    # what was stored equals encoding the same files directly
    ids = sorted(store.ids())[:5]
    paths = voices.set_index("item_id").loc[ids, "path"]
    direct = np.concatenate([enc.encode(enc.load(p).parts).embeddings for p in paths])
    np.testing.assert_allclose(store.read(ids), direct, rtol=1e-5, atol=1e-6)
    # a second run has nothing to do and adds no duplicate skip records
    again = extract(tmp_path / "m.parquet", enc, tmp_path / "store", batch_size=3, shard_size=4, progress=False)
    assert again.embedded == again.skipped == 0 and again.items_done_before == len(voices)
    assert len(store.skips()) == len(skips)


def test_faces_with_detection_and_layers(tmp_path, voice_folder, shared_data):
    real = voice_folder / "orl" / "faces"
    real.mkdir(parents=True)
    for k in (1, 2):
        (real / f"{k}.pgm").write_bytes((shared_data / "orl_faces" / "s1" / f"{k}.pgm").read_bytes())
    prepare_folder(voice_folder, tmp_path / "m.parquet", split="test")
    enc = create_encoder("clip", source=tiny_config("clip"), pooling="cls", detect_faces=True)
    res = extract(
        tmp_path / "m.parquet", enc, tmp_path / "faces", batch_size=4, shard_size=8, layers=True, progress=False
    )
    skips = pd.read_csv(tmp_path / "faces" / "skip_report.csv")
    reasons = dict(zip(skips["item_id"], skips["reason"], strict=True))
    assert reasons["face:broken/zero.jpg"] == "empty"
    assert reasons["face:broken/text.jpg"] == reasons["face:broken/audio.jpg"] == "unreadable"
    assert sum(r == "no_face" for r in reasons.values()) == 8  # the random-noise images have no face
    assert res.embedded == 2 and res.notes == {"face_source=detected": 2}
    main = EmbeddingStore.open(tmp_path / "faces")
    layers = EmbeddingStore.open(tmp_path / "faces" / "layers")
    ids, X = main.read_all()
    L = layers.read(ids).reshape(len(ids), enc.num_layers, enc.dim)
    np.testing.assert_allclose(
        L[:, -1], X, rtol=1e-5, atol=1e-6
    )  # last-layer CLS = embedding (no final norm in the list)
    report = json.loads((tmp_path / "faces" / "extract_report.json").read_text())
    assert report["face_source"] == {"detected": 2}
