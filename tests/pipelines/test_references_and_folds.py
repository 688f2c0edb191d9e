"""Gender-only and chance reference rows, and K-fold identity benchmarks (issue 16 item 12)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.pipelines.benchmark.references import evaluate_references
from facevoice.pipelines.folds import fold_manifests, run_benchmark_folds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_fixtures import make_tiny_bundle  # noqa: E402

EV = {"kinds": ["verification", "matching"], "reference": False}


def _figure(res: pd.DataFrame, protocol: str, constraint: str, metric: str) -> float:
    sel = res[(res["protocol"] == protocol) & (res["split"] == "test_unseen") & (res["direction"] == "v2f")]
    return float(sel[(sel["constraint"] == constraint) & (sel["metric"] == metric)]["value"].iloc[0])


def test_gender_only_and_chance_rows_match_their_definitions():
    bundle = make_tiny_bundle(n_train=6, n_val=0, n_test=8)
    m = bundle.manifest
    ps = build_protocols(
        m, seed=0, constraints=["random", "G"], gallery_sizes=[2, 3], kinds=["verification", "matching"]
    )
    rows = {name: (res, head) for name, res, head in evaluate_references({"gender": True, "chance": True}, m, ps, EV)}
    gender = dict(zip(m["item_id"], m["gender"], strict=True))
    g = ps.galleries[
        (ps.galleries["split"] == "test_unseen") & (ps.galleries["direction"] == "v2f") & (ps.galleries["n"] == 2)
    ]
    # 1:2 by gender alone: right when the two candidates differ in gender, a coin flip when they do not
    expected = np.mean([1.0 if gender[c[0]] != gender[c[1]] else 0.5 for c in g["candidates"]])
    assert _figure(rows["gender-only"][0], "matching", "N=2", "accuracy") == expected
    t = ps.trials[
        (ps.trials["split"] == "test_unseen")
        & (ps.trials["direction"] == "v2f")
        & (ps.trials["constraint"] == "random")
    ]
    same = [float(gender[p] == gender[c]) for p, c in zip(t["probe_id"], t["candidate_id"], strict=True)]
    assert (
        abs(_figure(rows["gender-only"][0], "verification", "random", "auc") - roc_auc_score(t["label"], same)) < 1e-12
    )
    assert _figure(rows["gender-only"][0], "verification", "G", "auc") == 0.5  # same-gender negatives: nothing left
    chance = rows["chance"][0]
    assert (
        _figure(chance, "verification", "random", "eer") == 0.5
        and _figure(chance, "matching", "N=3", "accuracy") == 1 / 3
    )
    scores, labels = rows["gender-only"][1]
    assert len(scores) == len(t) and np.array_equal(labels, t["label"].to_numpy())
    nogender = evaluate_references({"gender": True}, m.drop(columns=["gender"]), ps, EV)
    assert nogender == []  # no gender column: the row is left out (with a warning)


def test_fold_manifests_use_every_identity_once_as_test():
    bundle = make_tiny_bundle(n_train=10, n_val=2, n_test=3)
    manifests, folds = fold_manifests(bundle.manifest, 3, seed=0)
    tested = []
    for k, df in enumerate(manifests):
        test_ids = set(df.loc[df["split"] == "test_unseen", "identity"])
        assert test_ids == {i for i, f in folds.items() if f == k}
        assert set(df.loc[~df["identity"].isin(test_ids), "split"]) <= {"train", "test_seen"}
        assert (df["item_id"] == bundle.manifest["item_id"]).all()  # rows stay aligned with the embeddings
        tested += sorted(test_ids)
    assert sorted(tested) == sorted(set(bundle.manifest["identity"]))


def test_benchmark_over_folds_reports_mean_and_spread_with_reference_rows(tmp_path):
    bundle = make_tiny_bundle(n_train=9, n_val=0, n_test=3)
    cfg = {
        "benchmark": "tiny",
        "methods": [],
        "references": {"cca": True, "oracle": False, "gender": True, "chance": True},
        "seeds": [0],
        "train": {"progress": False},
        "eval": {
            "constraints": ["random", "G"],
            "gallery_sizes": [2, 4],
            "kinds": ["verification", "matching"],
            "paired_n_boot": 0,
        },
        "out": str(tmp_path / "folds"),
    }
    out = run_benchmark_folds(cfg, 3, bundle=bundle)
    per_fold = pd.read_csv(out / "results_folds_long.csv")
    assert set(per_fold["fold"]) == {0, 1, 2} and {"cca", "gender-only", "chance"} <= set(per_fold["method"])
    summary = pd.read_csv(out / "results.csv")
    key = (summary["method"] == "cca") & (summary["metric"] == "eer") & (summary["constraint"] == "random")
    key &= (summary["split"] == "test_unseen") & (summary["direction"] == "v2f")
    folds = per_fold[
        (per_fold["method"] == "cca") & (per_fold["metric"] == "eer") & (per_fold["constraint"] == "random")
    ]
    folds = folds[(folds["split"] == "test_unseen") & (folds["direction"] == "v2f")]["value"]
    assert summary.loc[key, "mean"].iloc[0] == folds.mean() and summary.loc[key, "std"].iloc[0] == folds.std(ddof=1)
    report = (out / "report.md").read_text()
    assert "mean ± std over folds" in report and "| gender-only |" in report and "| folds |" in report
    assert all((out / f"fold{k}" / "report.md").exists() for k in range(3))


def test_one_test_identity_is_refused_with_the_way_out(tmp_path):
    import pytest

    from facevoice.pipelines.benchmark import BenchmarkError, run_benchmark

    bundle = make_tiny_bundle(n_train=6, n_val=0, n_test=1)  # a 6-person corpus split 0.7/0.1/0.2 gives one
    bundle.manifest["split"] = bundle.manifest["split"].replace("test_seen", "train")
    cfg = {"methods": [], "train": {"progress": False}, "out": str(tmp_path / "b"), "eval": {"paired_n_boot": 0}}
    with pytest.raises(BenchmarkError, match=r"test_unseen: 1 identity with both modalities.*--folds K"):
        run_benchmark(cfg, bundle=bundle)  # the report came out empty, without a word
