"""Paired AUC bootstrap against sklearn and a materialised-resample reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facevoice.eval.paired import paired_auc_bootstrap, verdict, weighted_auc
from reference.metrics_reference import brute_auc
from reference.paired_reference import resampled_auc_differences


def _clustered_trials(seed: int, n_probes: int = 150, per_probe: int = 4, gap: float = 0.0):
    """Probes with a shared random effect; two systems whose AUCs differ by about ``gap``."""
    rng = np.random.default_rng(seed)
    probe = np.repeat(np.arange(n_probes), per_probe)
    y = np.tile(np.r_[1, np.zeros(per_probe - 1, int)], n_probes)
    effect = rng.standard_normal(n_probes)[probe]
    b = y * 1.0 + effect + rng.standard_normal(probe.size)
    a = y * (1.0 + gap) + effect + rng.standard_normal(probe.size)
    return a, b, y, probe


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_auc_matches_sklearn_and_brute_force(ties):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.integers(-2, 3, 300).astype(float) if ties else rng.standard_normal(300) + y
    w = rng.integers(0, 4, size=(3, 300)).astype(float)
    assert weighted_auc(s, y, np.ones((1, 300)))[0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    for row in w:  # integer weights = the list with every trial repeated w times
        rep = np.repeat(np.arange(300), row.astype(int))
        want = brute_auc(s[rep], y[rep])
        assert weighted_auc(s, y, row[None])[0] == pytest.approx(want, abs=1e-12)
        assert weighted_auc(s, y, row[None])[0] == pytest.approx(roc_auc_score(y, s, sample_weight=row), abs=1e-12)


def test_weighted_auc_is_nan_without_both_classes():
    s, y = np.array([0.1, 0.5, 0.9]), np.array([0, 1, 1])
    out = weighted_auc(s, y, np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0]]))
    assert np.isnan(out[0]) and out[1] == 1.0
    with pytest.raises(ValueError, match="columns"):
        weighted_auc(s, y, np.ones((1, 2)))


def test_bootstrap_matches_the_materialised_reference():
    a, b, y, probe = _clustered_trials(1, n_probes=80, gap=0.3)
    fast = paired_auc_bootstrap(a, b, y, probe, n_boot=2000, seed=0)
    slow = resampled_auc_differences(a, b, y, probe, n_boot=2000, seed=1)
    assert fast.diff == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    # Two Monte Carlo estimates of one bootstrap distribution (different draws): close, not equal.
    assert fast.lo == pytest.approx(np.percentile(slow, 2.5), abs=0.01)
    assert fast.hi == pytest.approx(np.percentile(slow, 97.5), abs=0.01)
    assert fast.p_le_0 == pytest.approx(np.mean(slow <= 0), abs=0.02)
    assert fast.n_clusters == 80


def test_identical_systems_tie_and_clear_gaps_are_called():
    a, b, y, probe = _clustered_trials(2, gap=0.0)
    same = paired_auc_bootstrap(b, b, y, probe, n_boot=200)
    assert (same.diff, same.lo, same.hi) == (0.0, 0.0, 0.0) and verdict(same) == "tie"
    a, b, y, probe = _clustered_trials(3, gap=2.0)
    assert verdict(paired_auc_bootstrap(a, b, y, probe, n_boot=300)) == "better"
    assert verdict(paired_auc_bootstrap(b, a, y, probe, n_boot=300)) == "worse"


def test_several_runs_average_their_differences_and_the_seed_fixes_the_draws():
    a, b, y, probe = _clustered_trials(4, gap=0.5)
    a2 = a + np.random.default_rng(9).standard_normal(a.size)
    res = paired_auc_bootstrap(np.stack([a, a2]), b, y, probe, n_boot=400, seed=5)
    want = [roc_auc_score(y, x) - roc_auc_score(y, b) for x in (a, a2)]
    np.testing.assert_allclose(res.per_run, want, atol=1e-12)
    assert res.diff == pytest.approx(np.mean(want), abs=1e-12)
    assert res == paired_auc_bootstrap(np.stack([a, a2]), b, y, probe, n_boot=400, seed=5)
    assert res != paired_auc_bootstrap(np.stack([a, a2]), b, y, probe, n_boot=400, seed=6)


def test_interval_covers_a_zero_difference_at_about_its_level():
    """Equal systems, each with its own probe effect: the 90% interval covers 0 about 90% of the time."""
    hits = 0
    n_rep = 100
    for rep in range(n_rep):
        rng = np.random.default_rng(100 + rep)
        probe = np.repeat(np.arange(60), 6)
        y = np.tile(np.r_[1, 1, 0, 0, 0, 0], 60)
        effect = rng.standard_normal((60, 2))[probe] * 2.0  # each system's own probe effect
        a = y + effect[:, 0] + 0.3 * rng.standard_normal(probe.size)
        b = y + effect[:, 1] + 0.3 * rng.standard_normal(probe.size)
        r = paired_auc_bootstrap(a, b, y, probe, n_boot=200, level=0.9, seed=rep)
        hits += r.lo <= 0.0 <= r.hi
    assert 0.8 <= hits / n_rep <= 0.98


def test_bad_arguments_are_refused():
    a, b, y, probe = _clustered_trials(5)
    with pytest.raises(ValueError, match="clusters"):
        paired_auc_bootstrap(a, b, y, probe[:-1])
    with pytest.raises(ValueError, match="level"):
        paired_auc_bootstrap(a, b, y, level=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        paired_auc_bootstrap(a, b, y, n_boot=0)
    with pytest.raises(ValueError):
        paired_auc_bootstrap(a[:-1], b, y)
