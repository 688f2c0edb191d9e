"""Per-trial score files at full precision and separate key files (issue 16 item 10)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.eval.protocols.protocol_set import build_protocols
from reference.eval_engine_reference import planted_embeddings, toy_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import make_tiny_bundle  # noqa: E402

runner = CliRunner()


def _auc(results: Path, split: str = "test_unseen") -> float:
    r = pd.DataFrame(json.loads(results.read_text())["results"])
    sel = r[(r["metric"] == "auc") & (r["split"] == split) & (r["constraint"].isin(["random", "-"]))]
    return float(sel[sel["direction"].isin(["v2f", "-"])]["value"].iloc[0])


def test_evaluate_writes_every_trial_score_at_full_precision(tmp_path):
    m = make_manifest(toy_manifest(n_train=6, n_unseen=8, items=3, seed=1))
    emb = planted_embeddings(m, dim=6, noise=1.0, seed=2)
    EmbeddingBundle(m, {k: X for k, (_, X) in emb.items()}).save(tmp_path / "b")
    build_protocols(m, seed=0, constraints=["random"], kinds=["verification"]).save(tmp_path / "p")
    res = runner.invoke(
        app,
        ["evaluate", "--bundle", str(tmp_path / "b"), "--protocols", str(tmp_path / "p"), "-o", str(tmp_path / "r")],
    )
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(tmp_path / "r" / "trial_scores.tsv", sep="\t", dtype={"score": np.float64})
    trials = pd.read_csv(tmp_path / "p" / "trials.tsv", sep="\t")
    assert len(scored) == len(trials) and list(scored.columns[:2]) == ["probe_id", "candidate_id"]
    f = dict(zip(emb["face"][0], emb["face"][1], strict=True))
    v = dict(zip(emb["voice"][0], emb["voice"][1], strict=True))

    def cosine(a, b):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        return float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))

    row = scored.iloc[0]
    pv, pf = (v, f) if row["direction"] == "v2f" else (f, v)
    assert abs(row["score"] - cosine(pv[row["probe_id"]], pf[row["candidate_id"]])) < 1e-6
    pairs = {frozenset(p) for p in zip(scored["probe_id"], scored["candidate_id"], strict=True)}
    assert scored["score"].nunique() == len(pairs)  # ties only where a pair repeats (6-decimal files tied 220-440)
    text = (tmp_path / "r" / "trial_scores.tsv").read_text().splitlines()[1]
    assert len(text.split("\t")[2].split(".")[-1]) >= 12  # full float64 precision, not 6 decimals
    again = runner.invoke(
        app, ["evaluate", "--scores", str(tmp_path / "r" / "trial_scores.tsv"), "-o", str(tmp_path / "r2")]
    )
    assert again.exit_code == 0, again.output
    assert _auc(tmp_path / "r2" / "results.json") == _auc(tmp_path / "r" / "results.json")  # the file is the figures


def test_a_separate_key_file_labels_a_score_file(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = labels + rng.normal(0, 1.0, 60)
    ids = [f"t{i:03d}" for i in range(60)]
    (tmp_path / "scores.txt").write_text("".join(f"{i} {float(s)!r}\n" for i, s in zip(ids, scores, strict=True)))
    order = rng.permutation(60)  # a key in another order, with words for labels
    (tmp_path / "key.txt").write_text(
        "trial_id,label\n" + "".join(f"{ids[k]},{'target' if labels[k] else 'nontarget'}\n" for k in order)
    )
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--scores",
            str(tmp_path / "scores.txt"),
            "--key",
            str(tmp_path / "key.txt"),
            "-o",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert abs(_auc(tmp_path / "r" / "results.json", "-") - roc_auc_score(labels, scores)) < 1e-12
    written = pd.read_csv(tmp_path / "r" / "trial_scores.tsv", sep="\t", dtype={"trial_id": str})
    assert written["trial_id"].tolist() == ids and written["label"].tolist() == labels.tolist()
    assert np.array_equal(written["score"].to_numpy(), scores)  # bit for bit
    (tmp_path / "short_key.txt").write_text("".join(f"{i} 1\n" for i in ids[:-1]))

    for key, message in (
        (tmp_path / "short_key.txt", "1 scored trial(s) are not in"),
        (tmp_path / "nokey.txt", "file not found"),
    ):
        sys_argv = ["facevoice", "evaluate", "--scores", str(tmp_path / "scores.txt"), "--key", str(key)]
        out = _run_main(sys_argv)
        assert out.startswith("error:") and message in out and "Traceback" not in out


def _run_main(argv: list[str]) -> str:
    import contextlib
    import io

    from facevoice.cli import main

    err = io.StringIO()
    old = sys.argv
    sys.argv = argv
    try:
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit):
            main()
    finally:
        sys.argv = old
    return err.getvalue()


def _csv(path: Path, X: np.ndarray, labels=None) -> str:
    rows = [
        ",".join([*(f"{x:.6f}" for x in r), *([str(labels[i])] if labels is not None else [])]) for i, r in enumerate(X)
    ]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_train_scores_test_lists_per_trial_with_a_key_and_labels_flag(tmp_path):
    b = make_tiny_bundle(seed=3)
    f_df, F = b.select("face", "train")
    v_df, V = b.select("voice", "train")
    face_csv, voice_csv = (
        _csv(tmp_path / "f.csv", F, f_df["identity"].tolist()),
        _csv(tmp_path / "v.csv", V, v_df["identity"].tolist()),
    )
    tf_df, TF = b.select("face", "test_unseen")
    tv_df, TV = b.select("voice", "test_unseen")
    n = min(len(TF), len(TV))
    fi = np.array([k if k % 2 == 0 else (k + 6) % n for k in range(n)])  # odd rows: a face of another person
    same = (tf_df["identity"].to_numpy()[fi] == tv_df["identity"].to_numpy()[:n]).astype(int)
    assert 0 < same.sum() < n
    lf, lv = _csv(tmp_path / "tf.csv", TF[fi]), _csv(tmp_path / "tv.csv", TV[:n])  # no label column
    (tmp_path / "key.txt").write_text("".join(f"trial{i:03d} {s}\n" for i, s in enumerate(same)))
    args = ["train", "folder/cca", "--face-csv", face_csv, "--voice-csv", voice_csv, "--out", str(tmp_path / "run")]
    args += ["--test", f"keyed={lf},{lv},{tmp_path / 'key.txt'}", "--test", f"parity={lf},{lv}", "--labels", "parity"]
    res = runner.invoke(app, args + ["method.n_pca=4", "--no-progress"])
    assert res.exit_code == 0, res.output
    keyed = pd.read_csv(tmp_path / "run" / "test_scores" / "keyed.tsv", sep="\t")
    assert (
        keyed["trial_id"].tolist() == [f"trial{i:03d}" for i in range(n)] and keyed["label"].tolist() == same.tolist()
    )
    parity = pd.read_csv(tmp_path / "run" / "test_scores" / "parity.tsv", sep="\t")
    assert parity["label"].tolist() == [1 - i % 2 for i in range(n)] and np.array_equal(parity["score"], keyed["score"])
    lists = json.loads((tmp_path / "run" / "test_lists.json").read_text())
    assert lists["keyed"]["label_source"] == "key" and lists["parity"]["label_source"] == "parity"
    assert abs(lists["keyed"]["auc"] - roc_auc_score(same, keyed["score"])) < 1e-12
