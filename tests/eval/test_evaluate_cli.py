"""End to end through the CLI: a tiny synthetic bundle -> `facevoice trials` -> `facevoice evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.eval.protocols.protocol_set import ProtocolSet
from facevoice.eval.scoring.engine import evaluate_embeddings
from facevoice.eval.scoring.scorers import EmbeddingScorer
from reference.eval_engine_reference import planted_embeddings, toy_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    m = make_manifest(toy_manifest(n_train=8, n_unseen=10, items=3, seed=5))
    emb = planted_embeddings(m, dim=8, noise=1.0, seed=6)
    bundle = EmbeddingBundle(m, {k: X for k, (_, X) in emb.items()})
    bundle.save(root / "bundle")
    res = runner.invoke(
        app,
        ["trials", "--manifest", str(root / "bundle" / "manifest.parquet"), "--out", str(root / "prot")]
        + ["--seed", "4", "--gallery-sizes", "2-4", "--constraints", "random,G"],
    )
    assert res.exit_code == 0, res.output
    return root, m, emb


def _results(path):
    doc = json.loads(path.read_text())
    return pd.DataFrame(doc["results"]), doc["meta"]


def test_trials_command_writes_protocol_folder(built):
    root, m, _ = built
    ps = ProtocolSet.load(root / "prot")
    assert set(ps.trials["constraint"]) == {"random", "G"} and set(ps.galleries["n"]) == {2, 3, 4}
    assert ps.meta["seed"] == 4 and (root / "prot" / "protocols.json").exists()
    assert set(ps.items["item_id"]) == set(m.loc[m["split"].isin(["test_unseen", "test_seen"]), "item_id"])


def test_trials_command_options(built, tmp_path):
    root, _, _ = built
    args = ["trials", "--manifest", str(root / "bundle" / "manifest.parquet"), "--out", str(tmp_path / "p")]
    res = runner.invoke(app, args + ["--split", "test_unseen", "--kinds", "verification", "--directions", "f2v"])
    assert res.exit_code == 0, res.output
    ps = ProtocolSet.load(tmp_path / "p")
    assert set(ps.trials["split"]) == {"test_unseen"} and set(ps.trials["direction"]) == {"f2v"}
    assert len(ps.galleries) == 0 and len(ps.retrieval) == 0
    res = runner.invoke(app, args + ["--constraints", "random,X"])
    assert res.exit_code != 0 and "unknown constraint" in str(res.exception)


def test_evaluate_bundle_with_protocols(built):
    root, m, emb = built
    out = root / "res_bundle"
    res = runner.invoke(
        app, ["evaluate", "--bundle", str(root / "bundle"), "--protocols", str(root / "prot")] + ["--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert all(t in res.output for t in ("verification", "matching", "retrieval", "N=4 %", "map %"))
    got, meta = _results(out / "results.json")
    want = evaluate_embeddings(emb["face"], emb["voice"], ProtocolSet.load(root / "prot"), m, calibration=True)
    assert len(got) == len(want) and meta["metric"] == "cosine"
    np.testing.assert_allclose(got["value"].to_numpy(), want["value"].to_numpy(), atol=1e-6)
    assert (out / "results.md").read_text().startswith("## facevoice evaluation")
    assert {"cllr", "min_cllr", "act_dcf"} <= set(got["metric"]) and "cllr" in res.output
    # --no-calibration: the figures without calibration, as before
    out2 = root / "res_bundle_nocal"
    args = ["evaluate", "--bundle", str(root / "bundle"), "--protocols", str(root / "prot"), "--no-calibration"]
    assert runner.invoke(app, args + ["--out", str(out2)]).exit_code == 0
    got2, _ = _results(out2 / "results.json")
    plain = evaluate_embeddings(emb["face"], emb["voice"], ProtocolSet.load(root / "prot"), m)
    assert not {"cllr", "min_cllr", "act_dcf"} & set(got2["metric"]) and len(got2) == len(plain)


def test_evaluate_stores_with_trial_file(built):
    root, m, emb = built
    out = root / "res_store.json"
    args = ["evaluate", "--face-store", str(root / "bundle" / "face"), "--voice-store", str(root / "bundle" / "voice")]
    args += ["--manifest", str(root / "bundle" / "manifest.parquet"), "--trials", str(root / "prot" / "trials.tsv")]
    res = runner.invoke(app, args + ["--out", str(out), "--metric", "l2", "--reference"])
    assert res.exit_code == 0, res.output
    got, _ = _results(out)
    assert set(got["protocol"]) == {"verification"} and {"reference_eer", "eer"} <= set(got["metric"])
    assert out.with_suffix(".md").exists()


@pytest.mark.parametrize("layout", ["pcsl", "pcs+trials", "sl_csv", "distance"])
def test_evaluate_score_files(built, layout):
    root, m, emb = built
    trials = ProtocolSet.load(root / "prot").trials
    t = trials[(trials["split"] == "test_unseen") & (trials["constraint"] == "random")].reset_index(drop=True)
    scorer = EmbeddingScorer(emb["face"], emb["voice"])
    s = np.concatenate(
        [scorer.pairs(g["probe_id"], g["candidate_id"], d) for d, g in t.groupby("direction", sort=False)]
    )
    t = pd.concat([g for _, g in t.groupby("direction", sort=False)], ignore_index=True).assign(score=s)
    path, extra = root / f"scores_{layout}.txt", []
    if layout == "pcsl":
        lines = [f"{r.probe_id} {r.candidate_id} {r.score:.10f} {r.label}" for r in t.itertuples()]
    elif layout == "pcs+trials":
        lines = [f"{r.probe_id}\t{r.candidate_id}\t{r.score:.10f}" for r in t.itertuples()]
        sub = root / "sub_trials.tsv"
        t.drop(columns="score").to_csv(sub, sep="\t", index=False)
        extra = ["--trials", str(sub)]
    elif layout == "sl_csv":
        lines = ["score,label"] + [f"{r.score:.10f},{'target' if r.label else 'nontarget'}" for r in t.itertuples()]
    else:
        lines = [f"{r.probe_id} {r.candidate_id} {1 - r.score:.10f} {r.label}" for r in t.itertuples()]
        extra = ["--lower-is-better"]
    path.write_text("\n".join(lines) + "\n")
    out = root / f"out_{layout}"
    res = runner.invoke(app, ["evaluate", "--scores", str(path), "--out", str(out)] + extra)
    assert res.exit_code == 0, res.output
    got, _ = _results(out / "results.json")
    from facevoice.eval import metrics

    eer = got.loc[got["metric"] == "eer", "value"]
    if layout == "pcs+trials":  # the trial list brings direction, so one figure per direction
        assert len(eer) == 2
    else:
        assert len(eer) == 1
        assert eer.iloc[0] == pytest.approx(metrics.eer(t["score"], t["label"]).eer, abs=1e-6)


def test_evaluate_score_file_against_protocol_folder(built, tmp_path):
    root, m, emb = built
    ps = ProtocolSet.load(root / "prot")
    scorer = EmbeddingScorer(emb["face"], emb["voice"])
    pairs = ps.trials[["probe_id", "candidate_id", "direction"]].drop_duplicates()
    lines = [f"{p},{c},{scorer.pairs([p], [c], d)[0]:.12f}" for p, c, d in pairs.itertuples(index=False)]
    path = tmp_path / "all_scores.csv"
    path.write_text("probe,candidate,score\n" + "\n".join(lines) + "\n")
    res = runner.invoke(
        app, ["evaluate", "--scores", str(path), "--protocols", str(root / "prot"), "-o", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    got, _ = _results(tmp_path / "results.json")
    want = evaluate_embeddings(emb["face"], emb["voice"], ps, m, kinds=["verification"], calibration=True)
    np.testing.assert_allclose(got["value"], want["value"], atol=1e-9)
    assert (
        got[["split", "direction", "constraint", "n"]].values.tolist()
        == want[["split", "direction", "constraint", "n"]].values.tolist()
    )
    path.write_text("probe,candidate,score\n" + "\n".join(lines[:-2]) + "\n")
    res = runner.invoke(app, ["evaluate", "--scores", str(path), "--protocols", str(root / "prot")])
    assert res.exit_code != 0 and "have no score" in str(res.exception)


def test_evaluate_errors(built, tmp_path):
    root, _, _ = built
    res = runner.invoke(app, ["evaluate", "--out", str(tmp_path)])
    assert res.exit_code != 0
    bad = tmp_path / "bad.txt"
    bad.write_text("v1 f1 0.3 1\nv1 f2 oops 0\n")
    res = runner.invoke(app, ["evaluate", "--scores", str(bad)])
    assert res.exit_code != 0 and "line 2" in str(res.exception)
    res = runner.invoke(app, ["evaluate", "--bundle", str(root / "bundle")])
    assert res.exit_code != 0 and "--trials" in res.output
