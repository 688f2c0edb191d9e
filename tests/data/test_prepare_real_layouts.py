"""`prepare folder` on real-world layouts (issue 16 items 5, 6, 7, 13): names that are not UTF-8, symlinked
folders, files outside the layout, output paths, fixed and stratified identity splits."""

from __future__ import annotations

import os
from collections import Counter

import pandas as pd
import pytest

from facevoice.data.corpora.folder import prepare_folder, prepare_skips_path
from facevoice.data.corpora.scan import scan_tree
from facevoice.data.manifest import ManifestError, read_manifest
from facevoice.data.splits import identity_folds, split_identities, stratified_split_identities


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def people(tmp_path):
    root = tmp_path / "people"
    for i in range(4):
        for k in range(2):
            _touch(root / f"p{i}" / "voices" / f"v{k}" / "a.wav")
            _touch(root / f"p{i}" / "faces" / f"v{k}" / "a.jpg")
    return root


def test_a_name_that_is_not_utf8_is_recorded_and_the_rest_prepared(people, tmp_path):
    bad = os.fsencode(str(people / "p0" / "voices")) + b"/caf\xe9.wav"  # latin-1 bytes, not UTF-8
    with open(bad, "wb") as fh:
        fh.write(b"x")
    _touch(people / "p1" / "voices" / "café_声.wav")  # valid UTF-8 unicode: listed as usual
    out = tmp_path / "m.parquet"
    df = prepare_folder(people, out, split="test")  # used to abort: 'utf-8' codec can't encode characters
    assert len(read_manifest(out)) == len(df) == 17 and "voice:p1/café_声.wav" in set(df["item_id"])
    skips = pd.read_csv(prepare_skips_path(out))
    row = skips[skips["reason"] == "bad_name"].iloc[0]
    assert row["path"].endswith("p0/voices/caf\\xe9.wav") and "UTF-8" in row["detail"]


def test_symlinked_folders_are_followed_at_every_depth_and_loops_recorded(people, tmp_path):
    extra = tmp_path / "elsewhere"
    _touch(extra / "clip1.wav")
    _touch(extra / "clip2.wav")
    os.symlink(extra, people / "p0" / "voices" / "linked")  # a symlinked sub-folder inside voices/ (was ignored)
    os.symlink(people / "p1", people / "p1_alias")  # a symlinked identity folder (was followed)
    os.symlink(people / "p2" / "faces", people / "p2" / "faces" / "v0" / "loop")  # back to a parent: a loop
    out = tmp_path / "m.parquet"
    df = prepare_folder(people, out, split="test")
    assert {"voice:p0/linked/clip1.wav", "voice:p0/linked/clip2.wav"} <= set(df["item_id"])
    assert df.set_index("item_id").loc["voice:p0/linked/clip1.wav", "video"] == "linked"
    assert set(df.loc[df["identity"] == "p1_alias", "modality"]) == {"face", "voice"}
    skips = pd.read_csv(prepare_skips_path(out))
    loop = skips[skips["reason"] == "symlink_loop"]
    assert len(loop) == 1 and loop["path"].iloc[0].endswith("p2/faces/v0/loop")


def test_everything_not_in_the_manifest_has_a_record(people, tmp_path):
    _touch(people / "README.txt")
    _touch(people / "p0" / "notes.txt")
    _touch(people / "p0" / "misc" / "x.wav")
    _touch(people / "p0" / "voices" / ".DS_Store")
    (people / "p0" / ".git" / "objects").mkdir(parents=True)
    _touch(people / "p0" / "images" / "second_face_folder.jpg")
    out = tmp_path / "m.parquet"
    df = prepare_folder(people, out, split="test")
    skips = pd.read_csv(prepare_skips_path(out))
    assert Counter(skips["reason"]) == {"outside_layout": 4, "hidden": 2}
    details = dict(zip(skips["path"].str.rsplit("/", n=1).str[-1], skips["detail"], strict=True))
    assert "only faces/ is read" in details["second_face_folder.jpg"] and "'misc'" in details["x.wav"]
    assert len(df.attrs["skipped"]) == 6 and len(scan_tree(people).files) == len(df) + 4  # hidden: not files
    clean = tmp_path / "clean.parquet"
    for p in (people / "README.txt", people / "p0" / "notes.txt", people / "p0" / "misc" / "x.wav"):
        p.unlink()
    for p in (people / "p0" / "voices" / ".DS_Store", people / "p0" / "images" / "second_face_folder.jpg"):
        p.unlink()
    (people / "p0" / ".git" / "objects").rmdir()
    (people / "p0" / ".git").rmdir()
    prepare_folder(people, clean, split="test")
    assert not prepare_skips_path(clean).exists()  # a clean corpus leaves no skip report


def test_output_path_naming_a_folder_fails_before_work_and_leaves_nothing(people, tmp_path):
    target = tmp_path / "out_dir"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        prepare_folder(people, target, split="test")
    assert list(target.iterdir()) == [] and not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ManifestError, match="is a folder, not a manifest"):  # was: "missing required column(s)"
        read_manifest(target)
    prepare_folder(people, target / "manifest.parquet", split="test")
    assert len(read_manifest(target)) == 16  # a folder holding manifest.parquet stands for it


def test_split_from_the_meta_file_or_a_split_file(people, tmp_path):
    meta = tmp_path / "meta.tsv"
    meta.write_text("identity\tgender\tsplit\np0\tf\ttrain\np1\tm\ttrain\np2\tf\tdev\np3\tm\ttest\n")
    df = prepare_folder(people, tmp_path / "m.parquet", meta=meta)  # the split column was dropped without a word
    per_id = df.drop_duplicates("identity").set_index("identity")["split"].to_dict()
    assert per_id == {"p0": "train", "p1": "train", "p2": "val", "p3": "test_unseen"}
    split_file = tmp_path / "split.csv"
    split_file.write_text("identity,split\np0,test\np1,train\np2,train\n")  # p3 not listed: left out, recorded
    df = prepare_folder(people, tmp_path / "s.parquet", meta=meta, split_file=split_file)
    assert dict(df.drop_duplicates("identity")[["identity", "split"]].to_numpy()) == {
        "p0": "test_unseen",
        "p1": "train",
        "p2": "train",
    }
    skips = pd.read_csv(prepare_skips_path(tmp_path / "s.parquet"))
    assert set(skips["reason"]) == {"no_split"} and len(skips) == 4 and skips["detail"].str.contains("p3").all()
    ratios = prepare_folder(people, tmp_path / "r.parquet", meta=meta, ratios=(0.5, 0.0, 0.5), seed=3)
    assert set(ratios["split"]) == {"train", "test_unseen"}  # explicit ratios draw a new split
    split_file.write_text("p0,test_seen\n")
    with pytest.raises(ValueError, match="unknown split.*'p0' -> 'test_seen'"):
        prepare_folder(people, tmp_path / "bad.parquet", split_file=split_file)


def test_gender_stratified_splits_and_folds():
    ids = [f"id{i:02d}" for i in range(20)]
    gender = {i: ("f" if k < 6 else "m") for k, i in enumerate(ids)}
    plain_counts, strat_counts = [], []
    for seed in range(30):
        plain = split_identities(ids, (0.7, 0.0, 0.3), seed)
        strat = stratified_split_identities(ids, gender, (0.7, 0.0, 0.3), seed)
        assert Counter(strat.values()) == Counter(plain.values())  # same sizes as the plain split
        plain_counts.append(sum(gender[i] == "f" for i, s in plain.items() if s == "test_unseen"))
        strat_counts.append(sum(gender[i] == "f" for i, s in strat.items() if s == "test_unseen"))
    # 6 test people of 20 (6 women): the expected share is 1.8 women; random splits range far from it
    assert set(strat_counts) <= {1, 2} and max(plain_counts) - min(plain_counts) >= 3
    for k in (3, 4, 5):
        folds = identity_folds(ids, k, gender, seed=1)
        sizes = Counter(folds.values())
        women = Counter(folds[i] for i in ids if gender[i] == "f")
        assert max(sizes.values()) - min(sizes.values()) <= 1
        assert all(abs(women.get(f, 0) - 6 / k) < 1 for f in range(k))


def test_prepare_folder_stratifies_by_the_meta_gender(tmp_path):
    root = tmp_path / "p"
    lines = ["identity,gender"]
    for i in range(20):
        _touch(root / f"id{i:02d}" / "voices" / "a.wav")
        _touch(root / f"id{i:02d}" / "faces" / "a.jpg")
        lines.append(f"id{i:02d},{'f' if i % 4 == 0 else 'm'}")
    (tmp_path / "meta.csv").write_text("\n".join(lines) + "\n")
    for seed in range(5):
        df = prepare_folder(root, ratios=(0.6, 0.2, 0.2), meta=tmp_path / "meta.csv", seed=seed)
        per_id = df.drop_duplicates("identity")
        women = per_id[per_id["gender"] == "f"].groupby("split").size().to_dict()
        assert women == {"test_unseen": 1, "train": 3, "val": 1}


def test_meta_column_names_and_gender_words_are_normalised(people, tmp_path):
    (tmp_path / "meta.csv").write_text("Name,Sex,Country\np0,Female,UK\np1,M,USA\np2,male,USA\np3,W,India\n")
    df = prepare_folder(people, split="test", meta=tmp_path / "meta.csv")
    per_id = df.drop_duplicates("identity").set_index("identity")
    assert per_id["gender"].to_dict() == {"p0": "f", "p1": "m", "p2": "m", "p3": "f"}
    assert per_id.loc["p3", "nationality"] == "India"


def test_commas_and_tabs_in_names_do_not_break_the_protocol_files(tmp_path):
    from facevoice.eval.protocols.protocol_set import ProtocolSet, build_protocols

    root = tmp_path / "p"
    for i in range(3):
        _touch(root / f"Smith, J{i}" / "voices" / "take 1, best.wav")
        _touch(root / f"Smith, J{i}" / "faces" / "a\tb.jpg")
    df = prepare_folder(root, split="test")
    assert "voice:Smith%2C J0/take 1%2C best.wav" in set(df["item_id"]) and "face:Smith%2C J0/a%09b.jpg" in set(
        df["item_id"]
    )
    assert df.set_index("item_id").loc["face:Smith%2C J0/a%09b.jpg", "path"].endswith("a\tb.jpg")  # the real name
    ps = build_protocols(df, seed=0, constraints=["random"], gallery_sizes=[2, 3])
    ps.save(tmp_path / "prot")  # refused ids with commas ("candidate ids may not contain commas") before
    assert len(ProtocolSet.load(tmp_path / "prot").galleries) == len(ps.galleries) > 0


def test_a_folder_that_cannot_be_listed_is_recorded_and_the_walk_goes_on(people, tmp_path, monkeypatch):
    import facevoice.data.corpora.scan as scan_mod

    real = os.scandir

    def scandir(path):  # root lists every folder; simulate a folder without read permission
        if str(path).endswith("p1/voices"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(scan_mod.os, "scandir", scandir)
    df = prepare_folder(people, tmp_path / "m.parquet", split="test")
    skips = pd.read_csv(prepare_skips_path(tmp_path / "m.parquet"))
    assert skips["reason"].tolist() == ["permission"] and skips["path"].iloc[0].endswith("p1/voices")
    assert len(df) == 14 and not (df["identity"].eq("p1") & df["modality"].eq("voice")).any()
