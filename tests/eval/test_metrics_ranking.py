"""1:N accuracy, AP / mAP and R@k against sklearn and enumeration of every tie-breaking order."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from facevoice.eval import metrics as M
from reference.metrics_reference import brute_average_precision, brute_hit_at_k, brute_one_to_n


def _retrieval(seed: int, p: int, c: int, ties: bool):
    rng = np.random.default_rng(seed)
    rel = rng.random((p, c)) < 0.15
    rel[np.arange(p), rng.integers(0, c, p)] = True
    s = rng.integers(0, 4, (p, c)).astype(float) if ties else rng.standard_normal((p, c)) + rel
    return s, rel


@pytest.mark.parametrize("ties", [False, True])
def test_average_precision_matches_sklearn(ties):
    s, rel = _retrieval(0, 40, 60, ties)
    ap = M.average_precision(s, rel)
    want = [average_precision_score(rel[i], s[i]) for i in range(len(s))]
    np.testing.assert_allclose(ap, want, atol=1e-12)
    assert M.mean_average_precision(s, rel) == pytest.approx(np.mean(want), abs=1e-12)
    np.testing.assert_allclose(ap[:5], [brute_average_precision(s[i], rel[i]) for i in range(5)], atol=1e-12)


def test_chunked_equals_single_chunk():
    s, rel = _retrieval(1, 37, 25, True)
    full = M.retrieval_report(s, rel, ks=(1, 3, 10), chunk_rows=10_000)
    for rows in (1, 4, 9):
        assert M.retrieval_report(s, rel, ks=(1, 3, 10), chunk_rows=rows) == full
    assert M.one_to_n_accuracy(s[:, :6], chunk_rows=3) == M.one_to_n_accuracy(s[:, :6])
    # float32 and memory-mapped-like read-only input give the same result
    ro = s.astype(np.float32)
    ro.setflags(write=False)
    assert M.mean_average_precision(ro, rel.astype(np.int8), chunk_rows=5) == pytest.approx(full["map"])


def test_recall_at_k_without_ties_is_plain_definition():
    s, rel = _retrieval(2, 30, 40, False)
    order = np.argsort(-s, axis=1)
    for k in (1, 5, 10):
        want = np.mean([rel[i, order[i, :k]].any() for i in range(len(s))])
        assert M.recall_at_k(s, rel, k=k) == pytest.approx(want)
    assert M.recall_at_k(s, rel, k=40) == 1.0 and M.recall_at_k(s, rel, k=100) == 1.0


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda c: st.tuples(
            st.lists(st.lists(st.integers(0, 2), min_size=c, max_size=c), min_size=1, max_size=3),
            st.lists(st.lists(st.booleans(), min_size=c, max_size=c), min_size=3, max_size=3),
            st.integers(1, c),
        )
    )
)
def test_property_ties_against_enumeration(case):
    rows, rel_rows, k = case
    s = np.array(rows, dtype=float)
    rel = np.array(rel_rows[: len(rows)])
    rel[:, 0] = True
    got_hits = [M.recall_at_k(s[i : i + 1], rel[i : i + 1], k=k) for i in range(len(s))]
    np.testing.assert_allclose(got_hits, [brute_hit_at_k(list(s[i]), list(rel[i]), k) for i in range(len(s))])
    np.testing.assert_allclose(
        M.average_precision(s, rel), [brute_average_precision(s[i], rel[i]) for i in range(len(s))], atol=1e-12
    )
    target = np.arange(len(rows)) % s.shape[1]
    assert M.one_to_n_accuracy(s, target) == pytest.approx(brute_one_to_n(s, target))


def test_one_to_n_accuracy_against_loops_and_column_zero_layout():
    rng = np.random.default_rng(3)
    s = rng.integers(0, 3, (25, 5)).astype(float)
    target = rng.integers(0, 5, 25)
    assert M.one_to_n_accuracy(s, target) == pytest.approx(brute_one_to_n(s, target))
    # moving the target to column 0 and omitting target gives the same figure
    moved = s.copy()
    moved[:, 0], moved[np.arange(25), target] = s[np.arange(25), target], s[:, 0]
    assert M.one_to_n_accuracy(moved) == pytest.approx(M.one_to_n_accuracy(s, target))
    assert M.one_to_n_accuracy(np.ones((4, 3))) == pytest.approx(1 / 3)
    assert M.one_to_n_accuracy([[0.9, 0.1], [0.2, 0.8]]) == 0.5


def test_one_to_n_validation():
    with pytest.raises(ValueError, match="at least 2 columns"):
        M.one_to_n_accuracy(np.ones((3, 1)))
    with pytest.raises(ValueError, match="outside"):
        M.one_to_n_accuracy(np.ones((2, 3)), [0, 3])
    with pytest.raises(ValueError, match="integer"):
        M.one_to_n_accuracy(np.ones((2, 3)), [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        M.one_to_n_accuracy(np.ones((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="1 NaN and 0 infinite"):
        M.one_to_n_accuracy([[0.1, np.nan], [0.3, 0.2]])
    with pytest.raises(ValueError, match="2-D"):
        M.one_to_n_accuracy(np.ones(3))
    with pytest.raises(ValueError, match="empty"):
        M.one_to_n_accuracy(np.ones((0, 3)))


def test_probes_without_relevant_items():
    s, rel = _retrieval(4, 12, 10, False)
    rel[[2, 7]] = False
    ap = M.average_precision(s, rel)
    assert np.isnan(ap[[2, 7]]).all() and np.isfinite(np.delete(ap, [2, 7])).all()
    with pytest.raises(ValueError, match=r"2 of 12 probes have no relevant candidate \(e.g. rows \[2, 7\]\)"):
        M.mean_average_precision(s, rel)
    with pytest.raises(ValueError, match="no relevant"):
        M.recall_at_k(s, rel, k=5)
    with pytest.warns(UserWarning, match="excluded 2 of 12"):
        value = M.mean_average_precision(s, rel, skip_empty=True)
    assert value == pytest.approx(np.nanmean(ap))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = M.retrieval_report(s, rel, skip_empty=True)
    assert len(caught) == 1 and rep["n_excluded"] == 2 and rep["n_probes"] == 10
    with pytest.raises(ValueError, match="no probe has a relevant"):
        M.mean_average_precision(s, np.zeros_like(rel))


def test_retrieval_validation():
    s, rel = _retrieval(5, 4, 6, False)
    with pytest.raises(ValueError, match="shape"):
        M.mean_average_precision(s, rel[:, :5])
    with pytest.raises(ValueError, match="binary"):
        M.mean_average_precision(s, rel.astype(int) * 2)
    with pytest.raises(ValueError, match="positive integer"):
        M.recall_at_k(s, rel, k=0)
    bad = s.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="0 NaN and 1 infinite"):
        M.retrieval_report(bad, rel)
