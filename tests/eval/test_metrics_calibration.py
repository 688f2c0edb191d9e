"""Calibration metrics (Cllr, min Cllr, actual DCF) against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from facevoice.eval import metrics as M
from reference.metrics_reference import loop_actual_dcf, loop_cllr


def _llr_trials(seed: int, n: int, ties: bool = False):
    """Targets ~ N(+1, 2), non-targets ~ N(-1, 2): exact LLR = x (equal variances 2, means ±1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    x = rng.normal(np.where(y == 1, 1.0, -1.0), np.sqrt(2.0))
    if ties:
        x = np.round(x)
    return x, y


@pytest.mark.parametrize("seed", [0, 1])
def test_cllr_and_actual_dcf_match_trial_loops(seed):
    s, y = _llr_trials(seed, 300)
    assert M.cllr(s, y) == pytest.approx(loop_cllr(s, y), abs=1e-12)
    for p in (0.01, 0.2, 0.5):
        assert M.actual_dcf(s, y, p_target=p) == pytest.approx(loop_actual_dcf(s, y, p), abs=1e-12)


def _sklearn_min_cllr(s, y) -> float:
    """PAV via scikit-learn's isotonic regression (ties pooled), converted to LLRs, then the Cllr loop."""
    post = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0).fit_transform(s, y.astype(float))
    prior = np.log(y.mean() / (1 - y.mean()))
    with np.errstate(divide="ignore"):
        llr = np.log(post) - np.log1p(-post) - prior
    tar = np.logaddexp(0, -llr[y == 1]) / np.log(2)
    non = np.logaddexp(0, llr[y == 0]) / np.log(2)
    return 0.5 * (tar.mean() + non.mean())


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_min_cllr_matches_isotonic_regression(seed, ties):
    s, y = _llr_trials(seed, 800, ties)
    assert M.min_cllr(s, y) == pytest.approx(_sklearn_min_cllr(s, y), abs=1e-10)
    # a monotone map of the scores does not change min Cllr, and min Cllr never exceeds Cllr
    assert M.min_cllr(np.exp(s), y) == pytest.approx(M.min_cllr(s, y), abs=1e-12)
    assert M.min_cllr(s, y) <= M.cllr(s, y) + 1e-12


def test_calibration_extremes():
    y = np.array([0, 0, 1, 1])
    assert M.cllr(np.zeros(4), y) == pytest.approx(1.0)  # llr = 0 always: one bit
    assert M.min_cllr([0.1, 0.2, 0.3, 0.4], y) == pytest.approx(0.0)  # separable
    assert M.min_cllr([0.4, 0.3, 0.2, 0.1], y) == pytest.approx(1.0)  # inverted: PAV pools everything
    assert M.cllr([5.0, 5.0, -5.0, -5.0], y) > 1.0  # confidently wrong costs more than a bit
    np.testing.assert_array_equal(M.pav_llr([0.1, 0.2, 0.3, 0.4], y), [-np.inf, -np.inf, np.inf, np.inf])


def test_well_calibrated_llrs_lose_little_and_scaled_ones_lose_more():
    s, y = _llr_trials(5, 20000)
    good = M.cllr(s, y) - M.min_cllr(s, y)
    bad = M.cllr(4 * s + 3, y) - M.min_cllr(4 * s + 3, y)
    assert good < 0.01 < bad
    rep = M.calibration_report(s, y, p_target=0.1)
    dcf, _ = M.min_dcf(s, y, p_target=0.1)
    assert rep["act_dcf"] >= dcf - 1e-12 and rep["act_dcf"] - dcf < 0.05
    assert M.actual_dcf(4 * s + 3, y, p_target=0.1) - dcf > 0.05


def test_calibration_rejects_bad_input():
    with pytest.raises(ValueError, match="finite"):
        M.cllr([0.0, np.nan], [0, 1])
    with pytest.raises(ValueError, match="p_target"):
        M.actual_dcf([0.0, 1.0], [0, 1], p_target=1.0)
