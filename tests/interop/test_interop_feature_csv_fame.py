"""Training from FOP-style feature CSVs given by path, list evaluation and the FAME submission export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import METHOD, make_tiny_bundle  # noqa: E402

from facevoice.interop.fame import FameFormatError, export_fame, read_trial_keys  # noqa: E402
from facevoice.interop.feature_csv import load_feature_csv_bundle  # noqa: E402
from facevoice.pipelines.run import train  # noqa: E402


def _csv(path, X, labels=None):
    with open(path, "w") as fh:
        for i, row in enumerate(X):
            vals = [f"{v:.5f}" for v in row] + ([str(labels[i])] if labels is not None else [])
            fh.write(",".join(vals) + "\n")
    return path


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    """Train pair (identity-labelled, row-aligned), a labelled unseen test list, FAME inputs."""
    root = tmp_path_factory.mktemp("csv")
    b = make_tiny_bundle(seed=5)
    out = {}
    rng = np.random.default_rng(0)
    for split, name in (("train", "train"), ("test_unseen", "test")):
        f_df, F = b.select("face", split)
        v_df, V = b.select("voice", split)
        if name == "train":  # row-aligned: row i of both the same identity
            out["face_csv"] = _csv(root / "train_face.csv", F, f_df["identity"].tolist())
            out["voice_csv"] = _csv(root / "train_voice.csv", V, v_df["identity"].tolist())
            continue
        ids = v_df["identity"].to_numpy()
        fi, vi = [], []
        for k, ident in enumerate(ids):  # one target and one non-target face per voice row
            same = np.flatnonzero(f_df["identity"].to_numpy() == ident)
            other = np.flatnonzero(f_df["identity"].to_numpy() != ident)
            fi += [rng.choice(same), rng.choice(other)]
            vi += [k, k]
        fl, vl = f_df["identity"].to_numpy()[fi], ids[vi]
        out["test"] = {
            "face_csv": str(_csv(root / "test_face.csv", F[fi], fl.tolist())),
            "voice_csv": str(_csv(root / "test_voice.csv", V[vi], vl.tolist())),
        }
        # FAME: the same trials without labels in the feature files, keys with labels
        _csv(root / "fame_face.csv", F[fi])
        _csv(root / "fame_voice.csv", V[vi])
        keys = [f"trial{t:04d} {int(a == c)}" for t, (a, c) in enumerate(zip(fl, vl, strict=True))]
        (root / "keys.txt").write_text("\n".join(keys) + "\n")
        out["fame"] = {
            "face_csv": str(root / "fame_face.csv"),
            "voice_csv": str(root / "fame_voice.csv"),
            "trials": str(root / "keys.txt"),
        }
    return out


def _data(csvs):
    return {
        "source": "feature_csv",
        "face_csv": str(csvs["face_csv"]),
        "voice_csv": str(csvs["voice_csv"]),
        "tests": {"unseen": csvs["test"]},
    }


def test_feature_csv_bundle(csvs):
    b = load_feature_csv_bundle(_data(csvs))
    assert set(b.manifest["split"]) == {"train"}
    assert b.embeddings["face"].shape == (len(b.rows("face")), 16) and b.embeddings["voice"].shape[1] == 12
    with pytest.raises(ValueError, match="voice_csv"):
        load_feature_csv_bundle({"source": "feature_csv", "face_csv": str(csvs["face_csv"])})
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_feature_csv_bundle({"face_csv": "nope.csv", "voice_csv": str(csvs["voice_csv"])})


def test_train_on_csv_and_export_fame(csvs, tmp_path):
    cfg = {
        "benchmark": "csv",
        "data": _data(csvs),
        "method": {"name": METHOD, "lr": 0.02},
        "train": {"epochs": 4, "batch_size": 16, "progress": False, "val_fraction": 0.2},
    }
    run = train(cfg, run_dir=tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert len(info["carved_val_identities"]) == 3  # no val CSVs: identities held out of the training CSV
    res = json.loads((run / "test_lists.json").read_text())["unseen"]
    assert res["label_source"] == "identity" and res["n_trials"] == 2 * res["n_target"]
    assert res["eer"] < 0.35 and info["test_lists"]["unseen"]["eer"] == res["eer"]
    rep = export_fame(run, "English", {"heard": csvs["fame"], "unheard": csvs["fame"]}, tmp_path / "sub")
    lines = (tmp_path / "sub" / "sub_score_English_heard.txt").read_text().splitlines()
    assert len(lines) == res["n_trials"] and lines[0].split()[0] == "trial0000"
    assert all(float(ln.split()[1]) >= 0 for ln in lines)
    # L2 distance of normalised embeddings is monotone in the cosine: the same EER as the list evaluation
    assert rep["heard"]["eer"] == pytest.approx(res["eer"]) and rep["mean_eer"] == pytest.approx(res["eer"])
    assert (tmp_path / "sub" / "sub_score_English_unheard.txt").exists()
    # the same list scored again through the CLI with the trained run
    from typer.testing import CliRunner

    from facevoice.cli import app

    spec = f"unseen={csvs['test']['face_csv']},{csvs['test']['voice_csv']}"
    out = tmp_path / "lists.json"
    res = CliRunner().invoke(app, ["test-lists", str(run), "--test", spec, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["unseen"]["eer"] == pytest.approx(info["test_lists"]["unseen"]["eer"])


def test_fame_input_errors(tmp_path, csvs):
    (tmp_path / "dup.txt").write_text("a 1\na 0\n")
    with pytest.raises(FameFormatError, match="duplicate"):
        read_trial_keys(tmp_path / "dup.txt")
    ids, labels = read_trial_keys(csvs["fame"]["trials"])
    assert labels is not None and len(ids) == len(labels)
    (tmp_path / "nolab.txt").write_text("x\ny\n")
    assert read_trial_keys(tmp_path / "nolab.txt") == (["x", "y"], None)


def test_benchmark_on_feature_csvs_and_lists(csvs, tmp_path):
    import pandas as pd
    import yaml
    from typer.testing import CliRunner

    from facevoice.cli import app

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({"method": {"name": METHOD, "lr": 0.02}}))
    bench = {"benchmark": "csv", "methods": ["tiny"], "seeds": [0, 1], "train": {"epochs": 2, "batch_size": 16}}
    (tmp_path / "benchmark.yaml").write_text(yaml.safe_dump(bench))
    args = ["benchmark", str(tmp_path / "benchmark.yaml"), "--out", str(tmp_path / "out")]
    args += ["--face-csv", str(csvs["face_csv"]), "--voice-csv", str(csvs["voice_csv"])]
    args += ["--test", f"uu={csvs['test']['face_csv']},{csvs['test']['voice_csv']}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    summary = pd.read_csv(tmp_path / "out" / "results.csv")
    lists = summary[(summary["constraint"] == "list") & (summary["metric"] == "eer")]
    assert set(lists["method"]) == {"tiny", "cca"} and set(lists["split"]) == {"uu"}
    assert int(lists.loc[lists["method"] == "tiny", "n_seeds"].iloc[0]) == 2
    assert "Verification lists" in (tmp_path / "out" / "report.md").read_text()


def test_cli_data_options_keep_dotted_data_overrides(csvs):
    from facevoice.pipelines.recipes import replace_data

    overrides = [
        "data.val.face_csv=vf.csv",
        "data.val.voice_csv=vv.csv",
        "data.tests.uu.labels=parity",
        "data.face_csv=ignored.csv",  # the option names the training files
        "train.epochs=2",
    ]
    cfg = replace_data(
        {"data": {"source": "simulated", "preset": "vox1"}},
        face_csv="f.csv",
        voice_csv="v.csv",
        tests=["uu=tf.csv,tv.csv"],
        overrides=overrides,
    )
    assert cfg["data"] == {
        "source": "feature_csv",
        "face_csv": "f.csv",
        "voice_csv": "v.csv",
        "val": {"face_csv": "vf.csv", "voice_csv": "vv.csv"},
        "tests": {"uu": {"face_csv": "tf.csv", "voice_csv": "tv.csv", "labels": "parity"}},
    }
    with pytest.raises(ValueError, match="'uu' given twice"):
        replace_data({}, tests=["uu=a,b", "uu=c,d"])


def test_val_section_needs_both_files(csvs):
    data = {**_data(csvs), "val": {"face_csv": str(csvs["face_csv"])}}
    with pytest.raises(ValueError, match=r"data.val needs face_csv and voice_csv.*voice_csv"):
        load_feature_csv_bundle(data)


def test_bad_test_list_fails_before_training(csvs, tmp_path):
    from facevoice.data.formats.fop import FormatError

    bad = tmp_path / "bad_face.csv"
    rows = Path(csvs["test"]["face_csv"]).read_text().splitlines()
    bad.write_text("\n".join(",".join(r.split(",")[1:]) for r in rows) + "\n")  # one feature short
    data = {**_data(csvs), "tests": {"uu": {"face_csv": str(bad), "voice_csv": csvs["test"]["voice_csv"]}}}
    cfg = {"data": data, "method": {"name": METHOD}, "train": {"epochs": 2, "progress": False}}
    with pytest.raises(FormatError, match=r"bad_face\.csv: has 16 columns and the last one holds text"):
        train(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_fame_features_with_wrong_width_are_refused(csvs, tmp_path):
    from facevoice.interop.fame import read_test_features

    X = read_test_features(csvs["fame"]["face_csv"], 16)
    assert X.shape[1] == 16
    with pytest.raises(FameFormatError, match=r"fame_face\.csv: has 16 columns, expected 14 or 15"):
        read_test_features(csvs["fame"]["face_csv"], 14)
