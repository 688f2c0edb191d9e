"""vox1_meta and the SSoS split and trial files: the real files from ../shared/data, and malformed copies."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.data.formats.fop import FormatError
from facevoice.data.formats.vox import read_ssos_split, read_ssos_splits, read_ssos_trials, read_vox1_meta


@pytest.fixture(scope="module")
def meta(shared_data):
    return read_vox1_meta(shared_data / "voxceleb1" / "vox1_meta.csv")


def test_vox1_meta(meta):
    assert meta.shape == (1251, 5)
    assert list(meta.columns) == ["voxceleb1_id", "vggface1_id", "gender", "nationality", "set"]
    assert set(meta["gender"]) == {"m", "f"} and set(meta["set"]) == {"dev", "test"}
    row = meta[meta["voxceleb1_id"] == "id10001"].iloc[0]
    assert row["vggface1_id"] == "A.J._Buckley" and row["nationality"] == "Ireland"


def test_ssos_splits(shared_data, meta):
    folder = shared_data / "protocols" / "ssos"
    df = read_ssos_splits(folder)
    assert df["split"].value_counts().to_dict() == {"train": 924, "test": 189, "val": 112}
    full = read_ssos_splits(folder, include_unmatched=True)
    assert len(full) == 1251 and (full["set"] == "none").sum() == 26
    joined = df.merge(meta, on="voxceleb1_id", suffixes=("", "_meta"))
    assert len(joined) == len(df) and (joined["vggface1_id"] == joined["vggface1_id_meta"]).all()
    assert read_ssos_split(folder / "vox1_val.csv")["split"].eq("val").all()


@pytest.mark.parametrize("name,constraint", [("verify_v2f_test.txt", "random"), ("verify_g_v2f_test.txt", "G")])
def test_ssos_trials(shared_data, meta, name, constraint):
    t = read_ssos_trials(shared_data / "protocols" / "ssos" / name, meta)
    assert len(t) == 65550 and (t["constraint"] == constraint).all() and (t["direction"] == "v2f").all()
    sizes = t.groupby("probe_group").size()
    assert len(sizes) == 21850 and (sizes == 3).all() and t["probe_id"].nunique() == 21850
    assert 0.49 < t["label"].mean() < 0.51  # each line is an independent trial, labelled from identities
    pos_at = t.groupby("probe_group").cumcount()[t["label"] == 1].value_counts(normalize=True)
    assert set(pos_at.index) == {0, 1, 2} and (pos_at > 0.3).all()  # positives at any of the 3 positions
    test_ids = set(read_ssos_splits(shared_data / "protocols" / "ssos").query("split == 'test'")["voxceleb1_id"])
    assert set(t["probe_identity"]) <= test_ids and set(t["candidate_identity"]) <= test_ids
    gender = dict(zip(meta["voxceleb1_id"], meta["gender"], strict=True))
    neg = t[t["label"] == 0]
    same_gender = (neg["probe_identity"].map(gender) == neg["candidate_identity"].map(gender)).mean()
    assert (same_gender == 1.0) if constraint == "G" else (0.4 < same_gender < 0.7)


def test_malformed_identity_tables_and_trials(tmp_path, meta):
    bad = tmp_path / "meta.csv"
    bad.write_text("VoxCeleb1 ID\tGender\nid1\tm\n")
    with pytest.raises(FormatError, match=r"meta\.csv line 1: missing column\(s\) \['vggface1_id'"):
        read_vox1_meta(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("VoxCeleb1_ID,VGGFace1_ID,Gender,Nationality,Set\nid1,A,m,US,dev\nid2,A,f,UK,dev\n")
    with pytest.raises(FormatError, match=r"dup\.csv line 3: duplicate vggface1_id 'A'"):
        read_vox1_meta(dup)
    trials = tmp_path / "verify_v2f_test.txt"
    trials.write_text("id10001/x/00001.wav A.J._Buckley/1.jpg\nid10001/x/00001.wav Nobody_Known/2.jpg\n")
    with pytest.raises(FormatError, match=r"verify_v2f_test\.txt line 2: face 'Nobody_Known/2\.jpg'"):
        read_ssos_trials(trials, meta)
    trials.write_text("id10001/x/00001.wav A.J._Buckley/1.jpg extra\n")
    with pytest.raises(FormatError, match="line 1: expected '<voice wav> <face jpg>', got 3 fields"):
        read_ssos_trials(trials, meta)
    trials.write_text("id99999/x/1.wav A.J._Buckley/1.jpg\n")
    with pytest.raises(FormatError, match="line 1: voice 'id99999/x/1.wav'"):
        read_ssos_trials(trials, meta)
    ok = tmp_path / "ok.txt"
    ok.write_text("id10001/x/1.wav A.J._Buckley/1.jpg\nid10001/x/1.wav A.R._Rahman/1.jpg\n\n")
    t = read_ssos_trials(ok, meta)
    assert t["label"].tolist() == [1, 0] and t["probe_group"].tolist() == [0, 0]


def test_ssos_trials_through_the_evaluator(shared_data, meta):
    from facevoice.eval.scoring.engine import evaluate_score_fn

    t = read_ssos_trials(shared_data / "protocols" / "ssos" / "verify_g_v2f_test.txt", meta)
    ident = dict(zip(t["probe_id"], t["probe_identity"], strict=True))
    ident.update(zip(t["candidate_id"], t["candidate_identity"], strict=True))
    gender = dict(zip(meta["voxceleb1_id"], meta["gender"], strict=True))

    def oracle(probe_ids, cand_ids, direction):
        assert direction == "v2f"
        return np.array([float(ident[p] == ident[c]) for p, c in zip(probe_ids, cand_ids, strict=True)])

    def gender_only(probe_ids, cand_ids, direction):  # knows gender only: chance on same-gender negatives
        return np.array([float(gender[ident[p]] == gender[ident[c]]) for p, c in zip(probe_ids, cand_ids, strict=True)])

    res = evaluate_score_fn(oracle, t)
    assert res.set_index("metric")["value"].to_dict() == {"eer": 0.0, "auc": 1.0, "min_dcf": 0.0}
    assert (res["constraint"] == "G").all() and (res["n"] == 65550).all()
    auc = evaluate_score_fn(gender_only, t).set_index("metric").loc["auc", "value"]
    assert auc == 0.5
