"""A run records, per modality, how its inputs were made: a rebuildable encoder or external features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.encoders import create_encoder
from facevoice.runs.inputs import input_record, inputs_from_bundle, run_inputs
from facevoice.runs.media import MediaInputError, input_encoder


def test_create_encoder_keeps_its_build_arguments():
    enc = create_encoder("dlib-face", fallback="whole")
    desc = enc.describe()
    assert desc["build"] == {"name": "dlib-face", "options": {"fallback": "whole"}}
    assert desc["tag"] == enc.tag


def test_inputs_from_extraction_meta_and_from_features():
    enc = create_encoder("dlib-face", fallback="whole")
    manifest = make_manifest(
        pd.DataFrame(
            [
                {"item_id": f"{m}{i}", "identity": "a", "modality": m, "split": "train"}
                for m in ("face", "voice")
                for i in (0, 1)
            ]
        )
    )
    meta = {"face": {**enc.describe(), "shard_size": 256}, "voice": {"simulator": "x"}}
    bundle = EmbeddingBundle(manifest, {"face": np.zeros((2, 128)), "voice": np.zeros((2, 512))},
                             {"face": enc.tag, "voice": "fop-csv:voices.csv"}, meta)  # fmt: skip
    inputs = inputs_from_bundle(bundle)
    assert inputs["face"]["kind"] == "encoder" and inputs["face"]["build"]["options"] == {"fallback": "whole"}
    assert inputs["voice"] == {"kind": "features", "tag": "fop-csv:voices.csv", "dim": 512}
    # a description whose tag is not the store's (another encoder) is not trusted
    assert input_record("other-tag", 128, enc.describe())["kind"] == "features"
    # a bundle saved again nests the per-modality metas one level deeper
    nested = EmbeddingBundle(manifest, bundle.embeddings, bundle.tags, {"face": meta, "voice": meta})
    assert inputs_from_bundle(nested)["face"]["kind"] == "encoder"


def _run(tmp_path, info):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(info))
    return run


def test_legacy_runs_fall_back_to_their_data_tags(tmp_path):
    enc = create_encoder("dlib-face")
    run = _run(tmp_path, {"d_face": 128, "d_voice": 256, "data": {"encoder_tags": {"face": enc.tag}}})
    assert run_inputs(run)["face"] == {"kind": "features", "tag": enc.tag, "dim": 128}
    assert input_encoder(run, "face").tag == enc.tag  # a registered encoder at its default options: rebuilt
    with pytest.raises(
        MediaInputError, match="voice inputs are pre-extracted features \\(no encoder recorded, 256-d\\)"
    ):
        input_encoder(run, "voice")


def test_a_tag_the_rebuilt_encoder_does_not_give_is_refused(tmp_path):
    tag = create_encoder("dlib-face", fallback="whole").tag
    run = _run(tmp_path, {"d_face": 128, "d_voice": 256, "data": {"encoder_tags": {"face": tag}}})
    with pytest.raises(MediaInputError, match=r"built with default options .*\(other options or weights\)"):
        input_encoder(run, "face")
    with pytest.raises(FileNotFoundError, match="not a facevoice run directory"):
        run_inputs(tmp_path / "nothing")
