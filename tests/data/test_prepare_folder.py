"""Generic folder layout → manifest; identity split and seen-heard video hold-out."""

from __future__ import annotations

import pandas as pd
import pytest

from facevoice.data.corpora.folder import prepare_folder
from facevoice.data.manifest import ManifestError, read_manifest
from facevoice.data.splits import split_identities


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "people"
    for i in range(10):
        for v in ("vidA", "vidB", "vidC"):
            _touch(root / f"p{i}" / "voices" / v / "001.wav")
            _touch(root / f"p{i}" / "faces" / v / "0001.jpg")
    _touch(root / "p0" / "faces" / "loose.png")  # no video folder
    _touch(root / "p0" / "voices" / ".DS_Store")  # hidden: ignored
    _touch(root / "p0" / "voices" / "odd.xyz")  # unknown extension: listed, extract decides
    (root / "not_a_person").mkdir()
    return root


def test_manifest_columns_ids_and_videos(tree, tmp_path):
    df = prepare_folder(tree, tmp_path / "m.parquet", split="test")
    assert len(df) == 10 * 6 + 2
    assert set(df["split"]) == {"test"}
    row = df.set_index("item_id").loc["voice:p3/vidB/001.wav"]
    assert row["identity"] == "p3" and row["modality"] == "voice" and row["video"] == "vidB"
    assert df.set_index("item_id").loc["face:p0/loose.png", "video"] == ""
    assert "voice:p0/odd.xyz" in set(df["item_id"]) and not df["item_id"].str.contains("DS_Store").any()
    assert pd.Series(df["path"]).map(lambda p: p.startswith("/")).all()
    pd.testing.assert_frame_equal(read_manifest(tmp_path / "m.parquet"), df)


def test_identity_split_and_seen_videos(tree):
    df = prepare_folder(tree, ratios=(0.6, 0.2, 0.2), seen_fraction=0.34, seed=1)
    ids = {s: set(df.loc[df["split"] == s, "identity"]) for s in ("train", "val", "test_unseen", "test_seen")}
    assert len(ids["train"]) == 6 and len(ids["val"]) == 2 and len(ids["test_unseen"]) == 2
    assert ids["test_seen"] <= ids["train"] and not (ids["train"] & ids["test_unseen"])
    seen = df[df["split"] == "test_seen"]
    train = df[df["split"] == "train"]
    pairs = {(i, v) for i, v in zip(seen["identity"], seen["video"], strict=True)}
    assert pairs.isdisjoint(zip(train["identity"], train["video"], strict=True))
    assert (seen.groupby("identity")["video"].nunique() == 1).all()  # one of three videos held out
    again = prepare_folder(tree, ratios=(0.6, 0.2, 0.2), seen_fraction=0.34, seed=1)
    pd.testing.assert_frame_equal(df, again)  # deterministic


def test_split_identities_edge_cases():
    assert set(split_identities(["a"]).values()) == {"train"}
    three = split_identities(["a", "b", "c"], (0.8, 0.1, 0.1))
    assert sorted(three.values()) == ["test_unseen", "train", "val"]
    with pytest.raises(ValueError, match="three"):
        split_identities(["a"], (1.0, 0.0))


def test_meta_join_and_errors(tree, tmp_path):
    meta = tmp_path / "meta.csv"
    meta.write_text("identity,gender,nationality\np0,f,UK\np1,m,India\n")
    df = prepare_folder(tree, split="train", meta=meta)
    assert df.loc[df["identity"] == "p0", "gender"].unique().tolist() == ["f"]
    assert df.loc[df["identity"] == "p5", "gender"].unique().tolist() == [""]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        prepare_folder(tmp_path / "nowhere")
    (tmp_path / "empty" / "x").mkdir(parents=True)
    with pytest.raises(ValueError, match="no media files"):
        prepare_folder(tmp_path / "empty")
    with pytest.raises(ManifestError):
        prepare_folder(tree, split="bogus")
