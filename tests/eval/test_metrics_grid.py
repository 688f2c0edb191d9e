"""The FOP/PAEFF/SBNet fixed-grid 10-fold EER against a literal loop replica of that procedure."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.eval import metrics as M
from reference.metrics_reference import brute_fop_eer


def _unit_pairs(seed: int, n: int, dim: int = 8):
    """Voice/face unit embeddings; even rows are same-person pairs (the reference's row parity)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim))
    f = rng.standard_normal((n, dim))
    same = np.arange(n) % 2 == 0
    f[same] = v[same] + 0.9 * f[same]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    return v, f, same


@pytest.mark.parametrize("n", [203, 60])
@pytest.mark.parametrize("variant", ["fop", "sbnet"])
def test_matches_literal_reference_procedure(n, variant):
    v, f, same = _unit_pairs(n, n)
    cos = np.sum(v * f, axis=1)
    want_eer, want_auc = brute_fop_eer(v, f, same, variant=variant)
    got = M.reference_eer(cos, same, variant=variant)
    assert got.eer == pytest.approx(want_eer, abs=1e-12)
    assert M.reference_auc(cos, same) == pytest.approx(want_auc, abs=1e-12)
    # the chosen grid threshold is a multiple of 0.005 in cosine units (0.01 in squared L2)
    assert got.threshold * 200 == pytest.approx(round(got.threshold * 200), abs=1e-9)


def test_grid_estimate_is_close_to_exact_eer_on_large_lists():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 20_000)
    s = np.tanh(0.4 * rng.standard_normal(y.size) + 0.35 * y)
    exact = M.eer(s, y).eer
    assert M.reference_eer(s, y).eer == pytest.approx(exact, abs=0.01)
    assert M.reference_eer(s, y, variant="sbnet").eer == pytest.approx(exact, abs=0.01)
    assert M.reference_auc(s, y) == pytest.approx(M.auc(s, y), abs=0.01)


def test_score_range_maps_the_grid():
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 500)
    s = np.tanh(rng.standard_normal(500) + y)
    a = M.reference_eer(s, y)
    b = M.reference_eer(10 * s + 3, y, score_range=(-7.0, 13.0))
    assert b.eer == pytest.approx(a.eer, abs=1e-12)
    assert b.threshold == pytest.approx(10 * a.threshold + 3, abs=1e-9)
    fpr, tpr, thr = M.reference_roc(s, y, n_thresholds=50, n_folds=5)
    assert fpr.shape == tpr.shape == thr.shape == (50,)
    assert np.all(np.diff(thr) < 0) and np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_fold_order_matters_like_the_reference():
    # a fold with no positives contributes TPR 0 everywhere, exactly as in the reference code
    s = np.linspace(0.9, -0.9, 40)
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    _, tpr, _ = M.reference_roc(s, y, n_folds=10)
    assert tpr.max() <= 0.5 + 1e-12


def test_validation():
    with pytest.raises(ValueError, match="variant"):
        M.reference_eer([0.1, 0.2] * 10, [0, 1] * 10, variant="sklearn")
    with pytest.raises(ValueError, match="at least n_folds=10"):
        M.reference_eer([0.1, 0.2, 0.3], [0, 1, 1])
    with pytest.raises(ValueError, match="score_range"):
        M.reference_eer([0.1, 0.2] * 10, [0, 1] * 10, score_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="both classes"):
        M.reference_eer([0.1] * 20, [1] * 20)
