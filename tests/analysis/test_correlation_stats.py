"""Correlation statistics and OLS against scipy / numpy and brute-force references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from facevoice.analysis.correlation.stats import bootstrap_ci, correlate, ols, pearson, spearman


@pytest.mark.parametrize("n", [5, 12, 40])
def test_spearman_pearson_match_scipy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n)
    y = -0.7 * x + rng.standard_normal(n)
    x[:3] = x[0]  # ties
    rho, p = spearman(x, y)
    ref = stats.spearmanr(x, y)
    assert rho == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-9)
    r, p = pearson(x, y)
    ref = stats.pearsonr(x, y)
    assert r == pytest.approx(ref.statistic, rel=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-9)


def test_perfect_monotone_and_known_value():
    x = np.arange(10.0)
    assert spearman(x, np.exp(x)) == (pytest.approx(1.0), 0.0)
    assert spearman(x, -(x**3))[0] == pytest.approx(-1.0)
    # Hand-computed: ranks (1,2,3,4,5) vs (2,1,4,3,5): sum d^2 = 4, rho = 1 - 6*4/(5*24) = 0.8.
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])[0] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="constant"):
        pearson([1, 1, 1, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least 3"):
        spearman([1, 2], [2, 1])


def test_bootstrap_ci_seeded_and_covers_estimate():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(12)
    y = -x + 0.5 * rng.standard_normal(12)
    lo, hi, nv = bootstrap_ci(x, y, "spearman", n_boot=2000, seed=1)
    assert (lo, hi, nv) == bootstrap_ci(x, y, "spearman", n_boot=2000, seed=1)
    assert lo < spearman(x, y)[0] < hi and -1 <= lo < hi <= 1
    assert nv <= 2000
    # Reference: the same resamples (same generator) through scipy, percentile interval.
    idx = np.random.default_rng(1).integers(0, 12, size=(2000, 12))
    rs = [stats.pearsonr(x[i], y[i]).statistic for i in idx if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0]
    lo_p, hi_p, _ = bootstrap_ci(x, y, "pearson", n_boot=2000, seed=1)
    assert (lo_p, hi_p) == pytest.approx(tuple(np.quantile(rs, [0.025, 0.975])), rel=1e-9)


def _table(n=14, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"cka": rng.uniform(0.2, 0.8, n), "id_mismatch": rng.uniform(0, 20, n), "gw": rng.uniform(size=n)}
    )
    df["eer"] = 40 - 25 * df["cka"] + 0.4 * df["id_mismatch"] + rng.normal(0, 1.5, n)
    return df


def test_ols_matches_lstsq_and_scipy():
    df = _table()
    res = ols(df, ["cka", "id_mismatch"], "eer")
    X = df[["cka", "id_mismatch"]].to_numpy()
    y = df["eer"].to_numpy()
    z = lambda a: (a - a.mean(0)) / a.std(0, ddof=1)  # noqa: E731
    A = np.column_stack([np.ones(len(y)), z(X)])
    beta, *_ = np.linalg.lstsq(A, z(y), rcond=None)
    assert [res.coef[k] for k in ("intercept", "cka", "id_mismatch")] == pytest.approx(beta.tolist(), abs=1e-10)
    fitted = np.column_stack([np.ones(len(y)), X]) @ np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y)[0]
    r2 = 1 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert res.r2 == pytest.approx(r2)
    assert res.adj_r2 == pytest.approx(1 - (1 - r2) * (len(y) - 1) / (len(y) - 3))
    assert res.coef["cka"] < 0 < res.coef["id_mismatch"]
    # One predictor: slope p-value and R^2 equal scipy.stats.linregress.
    one = ols(df, ["cka"], "eer")
    lr = stats.linregress(df["cka"], df["eer"])
    assert one.r2 == pytest.approx(lr.rvalue**2) and one.p_values["cka"] == pytest.approx(lr.pvalue, rel=1e-8)
    assert one.f_pvalue == pytest.approx(lr.pvalue, rel=1e-8)


def test_loo_r2_equals_press_by_refitting():
    df = _table(n=12, seed=3)
    res = ols(df, ["cka", "id_mismatch"], "eer")
    X = np.column_stack([np.ones(12), df[["cka", "id_mismatch"]].to_numpy()])
    y = df["eer"].to_numpy()
    pred = np.empty(12)
    for i in range(12):
        keep = np.arange(12) != i
        b = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
        pred[i] = X[i] @ b
    press = np.sum((y - pred) ** 2)
    assert res.loo_r2 == pytest.approx(1 - press / np.sum((y - y.mean()) ** 2), rel=1e-10)
    assert res.loo_r2 < res.r2
    np.testing.assert_allclose(res.loo_pred, pred, rtol=1e-10)


def test_ols_input_checks():
    df = _table(n=4)
    with pytest.raises(ValueError, match="more than 4 rows"):
        ols(df, ["cka", "id_mismatch", "gw"], "eer")
    with pytest.raises(KeyError, match="available"):
        ols(df, ["nope"], "eer")
    df.loc[0, "cka"] = np.nan
    with pytest.raises(ValueError, match="missing"):
        ols(df, ["cka"], "eer")


def test_correlate_table():
    df = _table()
    out = correlate(df, ["cka", "id_mismatch", "gw"], "eer", n_boot=500, seed=0)
    assert out["metric"].tolist() == ["cka", "id_mismatch", "gw"]
    row = out.set_index("metric").loc["cka"]
    ref = stats.spearmanr(df["cka"], df["eer"])
    assert row["spearman_rho"] == pytest.approx(ref.statistic) and row["spearman_p"] == pytest.approx(ref.pvalue)
    assert row["spearman_ci_low"] <= row["spearman_rho"] <= row["spearman_ci_high"]
    assert row["pearson_r"] == pytest.approx(stats.pearsonr(df["cka"], df["eer"]).statistic)
    assert row["n"] == 14 and row["n_boot_valid"] == 500
