"""Verification metrics against sklearn and the brute-force sweeps in tests/reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from facevoice.eval import metrics as M
from reference.metrics_reference import brute_auc, brute_eer, brute_min_dcf


def _trials(seed: int, n: int, ties: bool):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.integers(-3, 4, n).astype(float) if ties else rng.standard_normal(n) + 0.8 * y
    return s, y


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curves_and_auc_match_sklearn(seed, ties):
    s, y = _trials(seed, 1500, ties)
    for drop in (False, True):
        fpr, tpr, thr = M.roc_curve(s, y, drop_intermediate=drop)
        fpr2, tpr2, thr2 = skm.roc_curve(y, s, drop_intermediate=drop)
        np.testing.assert_allclose(fpr, fpr2, atol=1e-12)
        np.testing.assert_allclose(tpr, tpr2, atol=1e-12)
        np.testing.assert_array_equal(thr, thr2)
    for got, want in zip(M.det_curve(s, y), skm.det_curve(y, s), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    assert M.auc(s, y) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [3, 4])
def test_eer_and_min_dcf_match_brute_force_sweep(seed, ties):
    s, y = _trials(seed, 120, ties)
    got = M.eer(s, y)
    want_eer, want_thr = brute_eer(s, y)
    assert got.eer == pytest.approx(want_eer, abs=1e-12)
    assert got.threshold == pytest.approx(want_thr, abs=1e-12)
    assert M.auc(s, y) == pytest.approx(brute_auc(s, y), abs=1e-12)
    for p in (0.01, 0.3):
        value, thr = M.min_dcf(s, y, p_target=p)
        assert value == pytest.approx(brute_min_dcf(s, y, p_target=p), abs=1e-12)
        # the returned threshold reproduces the cost
        acc = s >= thr
        cost = p * np.mean(~acc[y == 1]) + (1 - p) * np.mean(acc[y == 0])
        assert cost / min(p, 1 - p) == pytest.approx(value, abs=1e-12)


def test_eer_hand_computed_example():
    # ROC points: (0,0) (0,.5) (.5,.5) (.5,1) (1,1): FNR = FPR = 0.5 exactly at threshold 0.6
    s = [0.9, 0.6, 0.4, 0.1]
    y = [1, 0, 1, 0]
    assert M.eer(s, y) == M.EERResult(0.5, 0.6)
    # P=3, N=2. FNR - FPR: 1 (+inf), 2/3 (0.9), 1/6 (0.8), -1/6 (0.7): t = (1/6) / (1/6 + 1/6) = 1/2
    # between 0.8 (FPR 1/2, FNR 2/3) and 0.7 (FPR 1/2, FNR 1/3): EER = 1/2 at threshold 0.75
    s = [0.9, 0.8, 0.7, 0.6, 0.2]
    y = [1, 0, 1, 1, 0]
    res = M.eer(s, y)
    assert res.eer == pytest.approx(0.5)
    assert res.threshold == pytest.approx(0.75)


def test_degenerate_inputs():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    perfect = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.0])
    assert M.eer(perfect, y) == M.EERResult(0.0, 0.7)
    assert M.auc(perfect, y) == 1.0
    assert M.eer(-perfect, y).eer == 1.0
    assert M.auc(-perfect, y) == 0.0
    flat = M.eer(np.full(7, 0.3), y)
    assert flat.eer == pytest.approx(0.5) and flat.threshold == pytest.approx(0.3)
    assert M.auc(np.full(7, 0.3), y) == 0.5
    assert M.min_dcf(np.full(7, 0.3), y)[0] == pytest.approx(1.0)
    assert M.min_dcf(perfect, y) == (0.0, 0.7)
    for s in (perfect, -perfect, np.full(7, 0.3)):
        for got, want in zip(M.det_curve(s, y), skm.det_curve(y, s), strict=True):
            np.testing.assert_allclose(got, want)


def test_verification_report_agrees_with_single_functions():
    s, y = _trials(7, 400, False)
    rep = M.verification_report(s, y, p_target=0.05)
    assert rep["eer"] == M.eer(s, y).eer and rep["eer_threshold"] == M.eer(s, y).threshold
    assert rep["auc"] == M.auc(s, y)
    assert (rep["min_dcf"], rep["min_dcf_threshold"]) == M.min_dcf(s, y, p_target=0.05)
    assert (rep["n_trials"], rep["n_pos"], rep["n_neg"]) == (400, int(y.sum()), int((1 - y).sum()))


def test_accepts_bool_labels_and_float32_scores():
    s, y = _trials(8, 300, False)
    assert M.eer(s.astype(np.float32), y.astype(bool)).eer == pytest.approx(M.eer(s.astype(np.float32), y).eer)


@pytest.mark.parametrize("fn", [M.eer, M.auc, M.roc_curve, M.det_curve, M.min_dcf, M.verification_report])
def test_input_validation(fn):
    with pytest.raises(ValueError, match="differ in length"):
        fn([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="binary"):
        fn([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="binary"):
        fn([0.1, 0.2, 0.3], [-1, 1, 1])
    with pytest.raises(ValueError, match="both classes are needed"):
        fn([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="2 NaN and 1 infinite"):
        fn([np.nan, 0.2, np.inf, np.nan], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="1-D"):
        fn(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="numeric"):
        fn(np.array(["a", "b"]), [0, 1])


def test_min_dcf_parameter_validation():
    with pytest.raises(ValueError, match="p_target"):
        M.min_dcf([0.1, 0.2], [0, 1], p_target=1.0)
    with pytest.raises(ValueError, match="positive"):
        M.min_dcf([0.1, 0.2], [0, 1], c_fa=0)


_small_trials = st.integers(2, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-4, 4), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)),
    )
)


@settings(max_examples=60, deadline=None)
@given(_small_trials)
def test_property_heavy_ties(trial):
    s, y = (np.array(v) for v in trial)
    s = s.astype(float)
    res = M.eer(s, y)
    want_eer, want_thr = brute_eer(s, y)
    assert res.eer == pytest.approx(want_eer, abs=1e-12)
    assert res.threshold == pytest.approx(want_thr, abs=1e-12)
    assert M.auc(s, y) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    # symmetry: negating scores and flipping labels leaves AUC and EER unchanged
    assert M.auc(-s, 1 - y) == pytest.approx(M.auc(s, y), abs=1e-12)
    assert M.eer(-s, 1 - y).eer == pytest.approx(res.eer, abs=1e-12)
    # reversing the scores turns AUC into 1 - AUC
    assert M.auc(-s, y) == pytest.approx(1 - M.auc(s, y), abs=1e-12)
