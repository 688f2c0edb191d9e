"""Trial-list, gallery and score-file readers: accepted layouts and errors naming file and line."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.data.formats.fop import FormatError
from facevoice.eval.protocols.io import read_galleries, read_trials, write_galleries, write_trials
from facevoice.eval.protocols.score_files import read_scores, write_scores


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text",
    [
        "probe_id\tcandidate_id\tlabel\tdirection\tconstraint\tsplit\nv1\tf1\t1\tv2f\tG\ttest\nv1\tf2\t0\tv2f\tG\ttest\n",
        "v1 f1 1 v2f G test\nv1 f2 0 v2f G test\n",
        "# comment\n\nv1,f1,target,v2f,G,test\nv1,f2,nontarget,v2f,G,test\n",
        "enroll test key direction constraint split\nv1 f1 true v2f G test\nv1 f2 false v2f G test\n",
    ],
)
def test_read_trials_layouts(tmp_path, text):
    t = read_trials(_write(tmp_path, "t.txt", text))
    assert t["probe_id"].tolist() == ["v1", "v1"] and t["candidate_id"].tolist() == ["f1", "f2"]
    assert t["label"].tolist() == [1, 0] and (t["direction"] == "v2f").all() and (t["constraint"] == "G").all()


def test_read_trials_partial_columns_and_roundtrip(tmp_path):
    t = read_trials(_write(tmp_path, "t.txt", "v1 f1\nf2 v3\n"))
    assert t["label"].tolist() == [-1, -1] and (t["direction"] == "").all()
    t2 = read_trials(_write(tmp_path, "t2.txt", "candidate_id,probe_id,label\nf1,v1,1\n"))
    assert t2[["probe_id", "candidate_id", "label"]].values.tolist() == [["v1", "f1", 1]]
    t3 = read_trials(_write(tmp_path, "t3.txt", "v1 f1 1 v2f\nv1 f2 0 v2f\n"))
    write_trials(t3, tmp_path / "out.tsv")
    back = read_trials(tmp_path / "out.tsv")
    assert back.values.tolist() == t3.values.tolist()


@pytest.mark.parametrize(
    "text,match",
    [
        ("v1 f1 1\nv1 f2\n", "line 2: 2 fields, expected 3"),
        ("v1 f1 1\nv1 f2 maybe\n", "line 2: label 'maybe'"),
        ("v1 f1 1 v2v\n", "line 1: direction 'v2v'"),
        ("v1\n", "line 1: 1 columns"),
        ("\n# only a comment\n", "no data lines"),
    ],
)
def test_read_trials_errors(tmp_path, text, match):
    p = _write(tmp_path, "bad.txt", text)
    with pytest.raises(FormatError, match=match) as exc:
        read_trials(p)
    assert str(p) in str(exc.value)


def test_galleries_roundtrip_and_errors(tmp_path):
    import pandas as pd

    g = pd.DataFrame(
        {
            "gallery_id": ["a", "b"],
            "split": "test_unseen",
            "direction": "v2f",
            "n": [2, 3],
            "probe_id": ["v1", "v2"],
            "target_pos": [1, 0],
            "candidates": [["f1", "f2"], ["f3", "f4", "f5"]],
        }
    )
    write_galleries(g, tmp_path / "g.tsv")
    back = read_galleries(tmp_path / "g.tsv")
    assert back["candidates"].tolist() == g["candidates"].tolist() and back["target_pos"].tolist() == [1, 0]
    text = (tmp_path / "g.tsv").read_text().replace("\t3\tv2\t0\t", "\t3\tv2\t5\t")
    with pytest.raises(FormatError, match="line 3: 3 candidates, n=3, target_pos=5"):
        read_galleries(_write(tmp_path, "bad.tsv", text))


@pytest.mark.parametrize(
    "text,ids,labels",
    [
        ("0.9 1\n0.1 0\n-0.3 0\n", False, [1, 0, 0]),
        ("0.9,target\n0.1,nontarget\n-0.3,nontarget\n", False, [1, 0, 0]),
        ("v1 f1 0.9 1\nv1 f2 0.1 0\nv2 f3 -0.3 0\n", True, [1, 0, 0]),
        ("v1\tf1\ttarget\t0.9\nv1\tf2\tnontarget\t0.1\nv2\tf3\tnontarget\t-0.3\n", True, [1, 0, 0]),
        ("v1 f1 0.9\nv1 f2 0.1\nv2 f3 -0.3\n", True, [-1, -1, -1]),
        ("probe,candidate,score,label\nv1,f1,0.9,1\nv1,f2,0.1,0\nv2,f3,-0.3,0\n", True, [1, 0, 0]),
        ("label score extra\nTrue 0.9 x\nFalse 0.1 y\nfalse -0.3 z\n", False, [1, 0, 0]),
        ("# scores\nenroll test score\n\nv1 f1 9e-1\nv1 f2 1E-1\nv2 f3 -3e-1\n", True, [-1, -1, -1]),
    ],
)
def test_read_scores_layouts(tmp_path, text, ids, labels):
    s = read_scores(_write(tmp_path, "s.txt", text))
    np.testing.assert_allclose(s["score"], [0.9, 0.1, -0.3])
    assert s["label"].tolist() == labels
    if ids:
        assert s["probe_id"].tolist() == ["v1", "v1", "v2"] and s["candidate_id"].tolist() == ["f1", "f2", "f3"]


def test_read_scores_trial_id_layout_and_distances(tmp_path):
    s = read_scores(_write(tmp_path, "fame.txt", "t1 0.3\nt2 1.7\n"), higher_is_better=False)
    assert s["trial_id"].tolist() == ["t1", "t2"] and s["score"].tolist() == [-0.3, -1.7]
    assert (s["label"] == -1).all()


@pytest.mark.parametrize(
    "text,match",
    [
        ("v1 f1 0.9 1\nv1 f2 nan 0\n", "line 2: score 'nan' is not a finite number"),
        ("v1 f1 0.9 1\nv1 f2 abc 0\n", "line 2: score 'abc'"),
        ("0.9 1\n0.1 2\n", "line 2: label '2' is not a label"),
        ("0.9 1\n0.1\n", "line 2: 1 fields, expected 2"),
        ("0.9 0.8\n", "line 1: cannot tell the layout"),
        ("a b c d e\n", "line 1: 5 columns without a header"),
        ("probe candidate label\nv1 f1 1\n", "has no score column"),
    ],
)
def test_read_scores_errors(tmp_path, text, match):
    p = _write(tmp_path, "bad.txt", text)
    with pytest.raises(FormatError, match=match) as exc:
        read_scores(p)
    assert str(p) in str(exc.value)


def test_write_scores_roundtrip(tmp_path):
    s = read_scores(_write(tmp_path, "s.txt", "v1 f1 0.9 1\nv1 f2 0.1 0\n"))
    write_scores(s, tmp_path / "o.tsv")
    back = read_scores(tmp_path / "o.tsv")
    assert back[["probe_id", "candidate_id", "label"]].values.tolist() == [["v1", "f1", 1], ["v1", "f2", 0]]
    np.testing.assert_allclose(back["score"], s["score"])
