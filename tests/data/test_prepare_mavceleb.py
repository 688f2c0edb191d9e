"""MAV-Celeb preparer: v1/v2/v3 layout, languages, identity-disjoint split, official split files."""

from __future__ import annotations

import pandas as pd
import pytest

from facevoice.data.corpora.mavceleb import prepare_mavceleb


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


@pytest.fixture
def v2(tmp_path):
    root = tmp_path / "mav"
    for i in range(1, 11):
        ident = f"id{i:04d}"
        for lang in ("English", "Hindi"):
            _touch(root / "voices" / ident / lang / f"vid{lang[0]}" / "00001.wav")
            _touch(root / "faces" / ident / lang / f"vid{lang[0]}" / "0001.jpg")
    return root


def test_layout_languages_and_identity_split(v2, tmp_path):
    df = prepare_mavceleb(v2, "v2", tmp_path / "m.parquet", ratios=(0.6, 0.2, 0.2))
    assert len(df) == 10 * 2 * 2
    assert set(df["language"]) == {"English", "Hindi"}
    row = df.set_index("item_id").loc["voice:id0003/Hindi/vidH/00001.wav"]
    assert row["identity"] == "id0003" and row["language"] == "Hindi" and row["video"] == "vidH"
    per_id = df.groupby("identity")["split"].nunique()
    assert (per_id == 1).all()  # every identity in one split: test identities unseen in training
    assert df.groupby("split")["identity"].nunique().to_dict() == {"test_unseen": 2, "train": 6, "val": 2}


def test_wrong_language_or_version_is_an_error(v2):
    with pytest.raises(ValueError, match="language one of"):
        prepare_mavceleb(v2, "v1")  # v1 is English-Urdu
    with pytest.raises(ValueError, match="unknown MAV-Celeb version"):
        prepare_mavceleb(v2, "v9")


def test_official_split_files_and_trials(v2, tmp_path):
    splits = tmp_path / "splits"
    splits.mkdir()
    train = [f"voices/id{i:04d}/English/vidE/00001.wav faces/id{i:04d}/English/vidE/0001.jpg" for i in range(1, 9)]
    (splits / "English_train.txt").write_text("\n".join(train) + "\n")
    trials = [
        "ab12cd34 voices/English/00000.wav faces/English/00000.jpg",
        "zz99yy88 voices/English/00001.wav faces/English/00000.jpg",
    ]
    (splits / "English_test.txt").write_text("\n".join(trials) + "\n")
    (splits / "Hindi_test.txt").write_text("hh11ii22 voices/Hindi/00000.wav faces/Hindi/00000.jpg\n")
    test_root = tmp_path / "test"
    out = tmp_path / "m.parquet"
    df = prepare_mavceleb(v2, "v2", out, splits_dir=splits, test_root=test_root)
    assert (df.loc[df["split"] == "train", "language"] == "English").all()
    assert df["split"].value_counts().to_dict() == {"train": 16, "test": 5}
    test = df[df["split"] == "test"].set_index("item_id")
    assert test.loc["voice:test/voices/Hindi/00000.wav", "path"] == str(test_root / "voices" / "Hindi" / "00000.wav")
    assert set(test["identity"]) == {"unlabelled"}
    trials = pd.read_csv(tmp_path / "m.trials.csv")
    assert trials["trial_id"].tolist() == ["ab12cd34", "zz99yy88", "hh11ii22"]
    assert trials.loc[1, "face"] == "face:test/faces/English/00000.jpg" and trials.loc[2, "language"] == "Hindi"
