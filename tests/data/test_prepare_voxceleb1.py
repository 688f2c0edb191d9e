"""VoxCeleb1 preparer on a small tree named after real identities, with the real meta and SSoS lists."""

from __future__ import annotations

import pytest

from facevoice.data.corpora.voxceleb1 import prepare_voxceleb1, read_vox1_meta

# dev identities of vox1_meta (SSoS lists: id10310 train, id10003 val, id10117/id10118 test) and two test ones
DEV = {"id10310": "Fanny_Ardant", "id10117": "CCH_Pounder", "id10118": "Caitriona_Balfe", "id10003": "Aamir_Khan"}
TEST = {"id10270": "Eartha_Kitt", "id10271": "Ed_Westwick"}


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


@pytest.fixture
def vox(tmp_path):
    wav, frames, vgg = tmp_path / "wav", tmp_path / "unzippedFaces", tmp_path / "vggface"
    for vid, name in {**DEV, **TEST}.items():
        for video in ("v1", "v2", "v3"):
            _touch(wav / vid / video / "00001.wav")
            _touch(wav / vid / video / "00002.wav")
            _touch(frames / name / "1.6" / video / "0000375.jpg")
        _touch(vgg / name / "00000001.jpg")
    _touch(wav / "id99999" / "v1" / "00001.wav")  # not in the meta file
    return wav, frames, vgg


def test_meta_reader(shared_data):
    meta = read_vox1_meta(shared_data / "voxceleb1" / "vox1_meta.csv")
    assert len(meta) == 1251 and set(meta["set"]) == {"dev", "test"}
    assert meta.set_index("vox_id").loc["id10001", "vgg_name"] == "A.J._Buckley"


def test_frames_tree_meta_split(shared_data, vox, tmp_path):
    wav, frames, _ = vox
    df = prepare_voxceleb1(
        wav,
        frames,
        shared_data / "voxceleb1" / "vox1_meta.csv",
        tmp_path / "m.parquet",
        val_fraction=0.25,
        seen_fraction=0.34,
    )
    assert set(df["identity"]) == set(DEV) | set(TEST)  # the unknown folder is left out (with a warning)
    face = df.set_index("item_id").loc["face:Eartha_Kitt/1.6/v2/0000375.jpg"]
    assert (
        face["identity"] == "id10270"
        and face["video"] == "v2"
        and face["gender"] == "f"
        and face["nationality"] == "USA"
    )
    splits = df.groupby("identity")["split"].agg(set)
    assert all(splits[i] == {"test_unseen"} for i in TEST)
    assert sum(splits[i] == {"val"} for i in DEV) == 1
    trainers = [i for i in DEV if "train" in splits[i]]
    assert len(trainers) == 3 and all(splits[i] == {"train", "test_seen"} for i in trainers)
    one = df[df["identity"] == trainers[0]]
    seen_videos = set(one.loc[one["split"] == "test_seen", "video"])
    assert len(seen_videos) == 1 and set(one.loc[one["split"] == "train", "video"]).isdisjoint(seen_videos)
    assert set(one.loc[one["video"].isin(seen_videos), "modality"]) == {"face", "voice"}


def test_vggface_images_and_ssos_split(shared_data, vox, tmp_path):
    wav, _, vgg = vox
    meta = shared_data / "voxceleb1" / "vox1_meta.csv"
    df = prepare_voxceleb1(wav, vgg, meta, split="ssos", protocol_dir=shared_data / "protocols" / "ssos")
    faces = df[df["modality"] == "face"]
    assert (faces["video"] == "").all() and set(faces["identity"]) == set(DEV) | set(TEST)
    split_of = df.groupby("identity")["split"].first().to_dict()
    assert split_of == {
        "id10310": "train",
        "id10003": "val",
        "id10117": "test_unseen",
        "id10118": "test_unseen",
        "id10270": "test_unseen",
        "id10271": "test_unseen",
    }
    lists = tmp_path / "lists"
    lists.mkdir()
    for name in ("train", "val", "test"):
        lines = (shared_data / "protocols" / "ssos" / f"vox1_{name}.csv").read_text().splitlines()
        (lists / f"vox1_{name}.csv").write_text("\n".join(x for x in lines if not x.startswith("id10003")))
    fewer = prepare_voxceleb1(wav, vgg, meta, split="ssos", protocol_dir=lists)
    assert "id10003" not in set(fewer["identity"])  # outside the lists: left out, with a warning


def test_errors_name_the_problem(shared_data, vox, tmp_path):
    wav, frames, _ = vox
    meta = shared_data / "voxceleb1" / "vox1_meta.csv"
    with pytest.raises(FileNotFoundError, match="nothing"):
        prepare_voxceleb1(tmp_path / "nothing", frames, meta)
    with pytest.raises(ValueError, match="protocol_dir"):
        prepare_voxceleb1(wav, frames, meta, split="ssos")
    with pytest.raises(ValueError, match="unknown VoxCeleb1 split"):
        prepare_voxceleb1(wav, frames, meta, split="other")
    bad = tmp_path / "bad_meta.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing column"):
        prepare_voxceleb1(wav, frames, bad)


def test_files_left_out_are_recorded_beside_the_manifest(shared_data, vox, tmp_path):
    import pandas as pd

    from facevoice.data.corpora.folder import prepare_skips_path

    wav, frames, _ = vox
    _touch(wav / "loose.wav")  # not under <VoxCeleb1 ID>/
    prepare_voxceleb1(wav, frames, shared_data / "voxceleb1" / "vox1_meta.csv", tmp_path / "m.parquet")
    skips = pd.read_csv(prepare_skips_path(tmp_path / "m.parquet"))
    by_reason = dict(zip(skips["reason"], skips["path"], strict=True))
    assert by_reason["no_meta"].endswith("id99999/v1/00001.wav") and by_reason["outside_layout"].endswith("loose.wav")
