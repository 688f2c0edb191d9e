import pandas as pd
import pytest

from facevoice.data.manifest import (
    COLUMNS,
    ManifestError,
    make_manifest,
    read_manifest,
    summarize,
    write_manifest,
)


def _records():
    rows = []
    for ident, split in (("a", "train"), ("b", "train"), ("c", "test_unseen"), ("d", "val")):
        for m in ("face", "voice"):
            for v in ("v1", "v2"):
                rows.append(dict(item_id=f"{ident}-{m}-{v}", identity=ident, modality=m, video=v, split=split))
    rows.append(dict(item_id="a-face-v3", identity="a", modality="face", video="v3", split="test_seen"))
    return rows


def test_make_manifest_fills_schema_and_roundtrips(tmp_path):
    df = make_manifest(_records())
    assert tuple(df.columns) == COLUMNS
    assert (df["gender"] == "").all()
    for name in ("m.parquet", "m.tsv", "m.csv"):
        write_manifest(df, tmp_path / name)
        back = read_manifest(tmp_path / name)
        pd.testing.assert_frame_equal(back, df)
    s = summarize(df)
    assert int(s.loc[(s.split == "train") & (s.modality == "face"), "identities"].iloc[0]) == 2


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.append(dict(r[0])), "share an item_id"),
        (lambda r: r[0].update(modality="text"), "unknown modality"),
        (lambda r: r[0].update(split="dev"), "unknown split"),
        (lambda r: r[0].update(identity=""), "empty 'identity'"),
        (
            lambda r: r.append(dict(item_id="x", identity="a", modality="voice", video="z", split="test_unseen")),
            "identity",
        ),
        (lambda r: r.append(dict(item_id="y", identity="a", modality="voice", video="v1", split="test_seen")), "video"),
        (lambda r: r.append(dict(item_id="z", identity="a", modality="voice", video="q", split="val")), "identity"),
    ],
)
def test_validation_errors(mutate, message):
    recs = _records()
    mutate(recs)
    with pytest.raises(ManifestError, match=message):
        make_manifest(recs)


def test_seen_video_ids_only_clash_within_identity():
    recs = _records()
    # another identity's test_seen item may reuse the video id string "v1" of identity a
    recs.append(dict(item_id="b-voice-v1-seen", identity="b", modality="voice", video="v9", split="test_seen"))
    recs.append(dict(item_id="b2", identity="b", modality="face", video="v3", split="test_seen"))
    make_manifest(recs)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        read_manifest(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ManifestError, match="bad.parquet"):
        read_manifest(bad)
    csv = tmp_path / "missing_col.csv"
    csv.write_text("item_id,identity,modality\nx,a,face\n")
    with pytest.raises(ManifestError, match="missing_col.csv.*split"):
        read_manifest(csv)
