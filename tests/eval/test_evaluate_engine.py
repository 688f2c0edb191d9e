"""Evaluation engine against slow per-trial / per-gallery / per-probe loops, and its error paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facevoice.eval import metrics
from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.eval.scoring.engine import attach_labels, evaluate_embeddings, evaluate_score_fn, evaluate_scores
from facevoice.eval.scoring.results import display_tables, to_json, to_markdown, wide_table
from facevoice.eval.scoring.scorers import EmbeddingScorer
from reference.eval_engine_reference import (
    naive_gallery_accuracy,
    naive_pair_scores,
    naive_retrieval,
    planted_embeddings,
    toy_manifest,
)


@pytest.fixture(scope="module")
def setup():
    m = toy_manifest(n_train=10, n_unseen=14, items=3, seed=1)
    ps = build_protocols(m, seed=2, gallery_sizes=(2, 4))
    emb = planted_embeddings(m, dim=12, noise=1.2, seed=3)
    return m, ps, emb


def _no_ref(res):
    return res[~res["metric"].str.startswith("reference_")].reset_index(drop=True)


def _value(res, **key):
    sel = np.ones(len(res), dtype=bool)
    for k, v in key.items():
        sel &= (res[k] == v).to_numpy()
    assert sel.sum() == 1, key
    return float(res.loc[sel, "value"].iloc[0])


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_verification_matches_per_trial_loop(setup, metric):
    m, ps, emb = setup
    res = evaluate_embeddings(emb["face"], emb["voice"], ps, m, metric=metric, kinds=["verification"])
    assert set(res["protocol"]) == {"verification"}
    for (split, d, con), sub in ps.trials.groupby(["split", "direction", "constraint"]):
        s = naive_pair_scores(sub, emb, metric)
        key = dict(split=split, direction=d, constraint=con)
        assert _value(res, metric="eer", **key) == pytest.approx(metrics.eer(s, sub["label"]).eer, abs=1e-9)
        assert _value(res, metric="auc", **key) == pytest.approx(metrics.auc(s, sub["label"]), abs=1e-9)
        assert (
            res.loc[(res["split"] == split) & (res["direction"] == d) & (res["constraint"] == con), "n"] == len(sub)
        ).all()


def test_matching_and_retrieval_match_loops(setup):
    m, ps, emb = setup
    res = evaluate_embeddings(emb["face"], emb["voice"], ps, m, kinds=["matching", "retrieval"])
    for (split, d, n), sub in ps.galleries.groupby(["split", "direction", "n"]):
        got = _value(res, protocol="matching", split=split, direction=d, constraint=f"N={n}")
        assert got == pytest.approx(naive_gallery_accuracy(sub, emb), abs=1e-12)
    ident = dict(zip(m["item_id"], m["identity"], strict=True))
    for (split, d), sub in ps.retrieval.groupby(["split", "direction"]):
        want = naive_retrieval(
            sub.loc[sub["role"] == "probe", "item_id"],
            sub.loc[sub["role"] == "candidate", "item_id"].tolist(),
            ident,
            emb,
            d,
        )
        for k, v in want.items():
            assert _value(res, protocol="retrieval", split=split, direction=d, metric=k) == pytest.approx(v, abs=1e-9)


def test_planted_signal_beats_chance_and_noise_does_not(setup):
    m, ps, emb = setup
    good = evaluate_embeddings(emb["face"], emb["voice"], ps, m)
    rng = np.random.default_rng(0)
    noise = {k: (ids, rng.normal(size=X.shape)) for k, (ids, X) in emb.items()}
    bad = evaluate_embeddings(noise["face"], noise["voice"], ps, m)
    eer_good = good[(good["metric"] == "eer") & (good["split"] == "test_unseen")]["value"].mean()
    eer_bad = bad[(bad["metric"] == "eer") & (bad["split"] == "test_unseen")]["value"].mean()
    assert eer_good < 0.3 and 0.35 < eer_bad < 0.65
    acc_good = good[(good["constraint"] == "N=2")]["value"].mean()
    acc_bad = bad[(bad["constraint"] == "N=2")]["value"].mean()
    assert acc_good > 0.75 and abs(acc_bad - 0.5) < 0.15


def test_score_fn_gives_identical_results(setup):
    m, ps, emb = setup
    scorer = EmbeddingScorer(emb["face"], emb["voice"])
    calls = []

    def score_fn(probe_ids, cand_ids, direction):
        calls.append(direction)
        return scorer.pairs(probe_ids, cand_ids, direction)

    a = evaluate_embeddings(emb["face"], emb["voice"], ps, m)
    b = evaluate_score_fn(score_fn, ps, m)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-12)
    assert set(calls) == {"v2f", "f2v"}


def test_trial_lists_without_labels_or_directions(setup):
    m, ps, emb = setup
    t = ps.trials[ps.trials["constraint"] == "random"].copy()
    bare = t[["probe_id", "candidate_id"]].assign(label=-1, direction="", constraint="", split="")
    res = evaluate_embeddings(emb["face"], emb["voice"], bare, m)
    full = evaluate_embeddings(emb["face"], emb["voice"], t.assign(constraint="", split=""), m)
    pd.testing.assert_frame_equal(res, full)
    with pytest.raises(ValueError, match="unknown identity"):
        evaluate_embeddings(emb["face"], emb["voice"], bare, None)
    weird = bare.assign(candidate_id=bare["probe_id"])  # voice-voice pairs: no direction
    with pytest.raises(ValueError, match="no direction"):
        evaluate_embeddings(emb["face"], emb["voice"], weird, m)


def test_missing_embeddings_and_bad_inputs(setup):
    m, ps, emb = setup
    ids, X = emb["face"]
    with pytest.raises(KeyError, match="face item id"):
        evaluate_embeddings((ids[:-3], X[:-3]), emb["voice"], ps, m)
    with pytest.raises(ValueError, match="NaN"):
        EmbeddingScorer((ids, np.where(np.arange(len(ids))[:, None] == 0, np.nan, X)), emb["voice"])
    with pytest.raises(ValueError, match="not unique"):
        EmbeddingScorer((ids[:1] * len(ids), X), emb["voice"])
    with pytest.raises(ValueError, match="returned shape"):
        evaluate_score_fn(lambda p, c, d: np.zeros(len(p) + 1), ps, m, kinds=["verification"])
    one_class = ps.trials[ps.trials["label"] == 1]
    with pytest.raises(ValueError, match="only positive trials"):
        evaluate_embeddings(emb["face"], emb["voice"], one_class, m)


def test_evaluate_scores_with_trials_and_reference(setup):
    m, ps, emb = setup
    t = ps.trials[ps.trials["split"] == "test_unseen"].reset_index(drop=True)
    s = EmbeddingScorer(emb["face"], emb["voice"])
    pairs = t[["probe_id", "candidate_id", "direction"]].drop_duplicates()
    scores = pairs.assign(
        score=[s.pairs([p], [c], d)[0] for p, c, d in pairs.itertuples(index=False)],
        label=-1,
        trial_id="",
        constraint="",
        split="",
    )
    res = evaluate_scores(scores, t, reference=True)
    ref = evaluate_embeddings(emb["face"], emb["voice"], t, m, reference=True)
    pd.testing.assert_frame_equal(res, ref, check_exact=False, atol=1e-12)
    assert {"reference_eer", "reference_auc"} <= set(res["metric"])
    with pytest.raises(ValueError, match="have no score"):
        attach_labels(scores.iloc[:-1], t)
    dup = pd.concat([scores, scores.iloc[:1].assign(score=5.0)])
    with pytest.raises(ValueError, match="different scores"):
        attach_labels(dup, t)
    # labels in both tables must agree; the score file fills labels the trial list lacks
    truth = t.drop_duplicates(["probe_id", "candidate_id"]).set_index(["probe_id", "candidate_id"])["label"]
    labelled = scores.assign(label=truth.reindex(pd.MultiIndex.from_frame(scores[["probe_id", "candidate_id"]])).values)
    pd.testing.assert_frame_equal(evaluate_scores(labelled, t.assign(label=-1)), _no_ref(res))
    with pytest.raises(ValueError, match="labelled differently"):
        attach_labels(labelled.assign(label=1 - labelled["label"]), t)
    # labels from identities through a manifest, without a trial list
    res2 = evaluate_scores(scores, None, m)
    assert set(res2["split"]) == {"-"} and set(res2["direction"]) == {"v2f", "f2v"}
    with pytest.raises(ValueError, match="no label"):
        evaluate_scores(scores)


def test_result_tables(setup):
    m, ps, emb = setup
    res = evaluate_embeddings(emb["face"], emb["voice"], ps, m)
    wide = wide_table(res)
    assert list(wide.columns[:5]) == ["protocol", "split", "direction", "constraint", "n"]
    assert list(wide.columns[5:]) == ["eer", "auc", "min_dcf", "accuracy", "map", "recall@1", "recall@5", "recall@10"]
    tables = display_tables(res)
    assert list(tables) == ["verification", "matching", "retrieval"]
    ver = tables["verification"]
    assert len(ver) == len(ps.trials.groupby(["split", "direction", "constraint"]))
    assert list(ver.columns) == ["split", "direction", "constraint", "trials", "eer %", "auc %", "min_dcf"]
    assert list(tables["matching"].columns) == ["split", "direction", "galleries", "N=2 %", "N=4 %"]
    md = to_markdown(res, title="t")
    assert md.count("### ") == 3 and md.count("\n| test_unseen | v2f | random |") == 1
    eer = _value(res, split="test_unseen", direction="v2f", constraint="random", metric="eer")
    acc = _value(res, split="test_seen", direction="f2v", constraint="N=4", metric="accuracy")
    assert f"| {100 * eer:.2f} |" in md and f"| {100 * acc:.2f} |" in md
    doc = to_json(res, {"seed": 2})
    assert doc["meta"] == {"seed": 2} and len(doc["results"]) == len(res)
