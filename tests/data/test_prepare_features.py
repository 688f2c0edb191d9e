"""FOP-style feature CSVs → manifest + face/voice embedding stores; alignment errors."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.data.corpora.features import FeaturePair, prepare_features
from facevoice.store import EmbeddingStore


def _csv(path, X, labels):
    rows = [",".join([*(f"{v:.6f}" for v in x), str(lab)]) for x, lab in zip(X, labels, strict=True)]
    path.write_text("\n".join(rows) + "\n")


def test_pairs_to_manifest_and_stores(tmp_path):
    rng = np.random.default_rng(0)
    ftr, vtr = rng.standard_normal((6, 8)), rng.standard_normal((6, 5))
    fte, vte = rng.standard_normal((4, 8)), rng.standard_normal((4, 5))
    _csv(tmp_path / "f_train.csv", ftr, [0, 0, 1, 1, 2, 2])
    _csv(tmp_path / "v_train.csv", vtr, [0, 0, 1, 1, 2, 2])
    _csv(tmp_path / "f_test.csv", fte, [0.0, 0.0, 1.0, 1.0])  # labels re-numbered from 0: namespaced
    _csv(tmp_path / "v_test.csv", vte, [0, 0, 1, 1])
    pairs = [
        FeaturePair(str(tmp_path / "f_train.csv"), str(tmp_path / "v_train.csv"), "train"),
        f"{tmp_path / 'f_test.csv'},{tmp_path / 'v_test.csv'},test_unseen,heldout,Urdu",
    ]
    df = prepare_features(pairs, tmp_path / "out")
    assert len(df) == 20 and (tmp_path / "out" / "manifest.parquet").is_file()
    test = df[df["split"] == "test_unseen"]
    assert set(test["identity"]) == {"heldout:0", "heldout:1"} and set(test["language"]) == {"Urdu"}
    assert df.set_index("item_id").loc["voice:v_train:3", "feature_ref"].endswith("v_train.csv#3")
    face = EmbeddingStore.open(tmp_path / "out" / "face_store")
    voice = EmbeddingStore.open(tmp_path / "out" / "voice_store")
    assert face.dim == 8 and voice.dim == 5 and face.encoder_tag.startswith("features-face:")
    np.testing.assert_allclose(face.read(["face:f_test:2"])[0], fte[2], atol=1e-6)
    np.testing.assert_allclose(voice.read(["voice:v_train:5"])[0], vtr[5], atol=1e-6)
    prepare_features(pairs, tmp_path / "out")  # idempotent re-run
    assert len(face) == 10
    # the output folder is a bundle: face_store/ and voice_store/ are found by EmbeddingBundle.load
    from facevoice.data.bundle import EmbeddingBundle

    bundle = EmbeddingBundle.load(tmp_path / "out")
    assert bundle.embeddings["face"].shape == (10, 8) and bundle.embeddings["voice"].shape == (10, 5)


def test_misaligned_or_bad_csvs_are_errors(tmp_path):
    rng = np.random.default_rng(1)
    _csv(tmp_path / "f.csv", rng.standard_normal((3, 4)), [0, 1, 2])
    _csv(tmp_path / "v_short.csv", rng.standard_normal((2, 4)), [0, 1])
    _csv(tmp_path / "v_swap.csv", rng.standard_normal((3, 4)), [0, 2, 1])
    (tmp_path / "v_text.csv").write_text("0.1,0.2,abc,0.4,0\n0.1,0.2,0.3,0.4,1\n0.1,0.2,0.3,0.4,2\n")
    with pytest.raises(ValueError, match="not row-aligned"):
        prepare_features(
            [FeaturePair(str(tmp_path / "f.csv"), str(tmp_path / "v_short.csv"), "train")], tmp_path / "o1"
        )
    with pytest.raises(ValueError, match="line 2: labels differ"):
        prepare_features([FeaturePair(str(tmp_path / "f.csv"), str(tmp_path / "v_swap.csv"), "train")], tmp_path / "o2")
    with pytest.raises(ValueError, match=r"v_text.csv line 1: column 3 is not numeric"):
        prepare_features([FeaturePair(str(tmp_path / "f.csv"), str(tmp_path / "v_text.csv"), "train")], tmp_path / "o3")
    with pytest.raises(ValueError, match="expected face.csv"):
        FeaturePair.parse("only,two")
