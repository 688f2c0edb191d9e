"""`facevoice prepare folder` + `facevoice extract` end to end on a folder of real files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.store import EmbeddingStore


def test_prepare_and_extract_real_folder(tmp_path, shared_data):
    root = tmp_path / "people"
    pairs = {"anna": ("s1", "george"), "ben": ("s2", "jackson"), "carl": ("s3", "lucas")}
    for person, (face_dir, speaker) in pairs.items():
        (root / person / "faces").mkdir(parents=True)
        (root / person / "voices").mkdir(parents=True)
        for k in (1, 2):
            shutil.copy(shared_data / "orl_faces" / face_dir / f"{k}.pgm", root / person / "faces" / f"{k}.pgm")
            shutil.copy(shared_data / "fsdd_voices" / f"{k}_{speaker}_0.wav", root / person / "voices" / f"{k}.wav")
    (root / "anna" / "voices" / "broken.wav").write_bytes(b"RIFF....")
    runner = CliRunner()
    manifest = tmp_path / "manifest.parquet"
    res = runner.invoke(app, ["prepare", "folder", str(root), "--out", str(manifest), "--split", "test"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(manifest)) == 13

    res = runner.invoke(
        app,
        [
            "extract",
            str(manifest),
            "-e",
            "dlib-face",
            "-o",
            str(tmp_path / "faces"),
            "--opt",
            "fallback=whole",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    faces = EmbeddingStore.open(tmp_path / "faces")
    assert len(faces) == 6 and faces.dim == 128 and "fallback=whole" in faces.encoder_tag
    report = json.loads((tmp_path / "faces" / "extract_report.json").read_text())
    assert sum(report["face_source"].values()) == 6

    res = runner.invoke(
        app, ["extract", str(manifest), "-e", "resemblyzer", "-o", str(tmp_path / "voices"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    voices = EmbeddingStore.open(tmp_path / "voices")
    ids, X = voices.read_all()
    assert len(ids) == 6 and np.isfinite(X).all()
    skips = pd.read_csv(tmp_path / "voices" / "skip_report.csv")
    assert skips["item_id"].tolist() == ["voice:anna/broken.wav"] and skips["reason"].tolist() == ["unreadable"]

    res = runner.invoke(
        app, ["extract", str(manifest), "-e", "resemblyzer", "-o", str(tmp_path / "faces"), "--no-progress"]
    )
    assert res.exit_code != 0 and "refusing" in str(res.exception)  # another encoder's store is refused
