"""Correlation study over encoder pairs: which geometry metric predicts the cross-modal EER?

Standard definitions, so that published per-pair tables reproduce:

* Pearson ``r`` and Spearman ``rho`` (Pearson of average ranks, ties averaged); two-sided p-values
  from the t distribution with ``n - 2`` degrees of freedom (what ``scipy.stats.pearsonr``, exact
  beta form, and ``scipy.stats.spearmanr`` give);
* bootstrap CIs: ``n_boot`` resamples of the pairs with replacement (``numpy`` generator seeded by
  ``seed``), percentile interval; resamples with a constant column are left out and counted;
* OLS of the z-scored target on z-scored metrics with an intercept: standardised coefficients
  with t-test p-values, ``R^2``, adjusted ``R^2 = 1 - (1 - R^2)(n - 1)/(n - p - 1)`` and
  leave-one-out ``R^2 = 1 - PRESS / TSS`` with ``PRESS = sum (y_i - yhat_(-i))^2`` and ``TSS`` about
  the full-sample mean (z-scoring does not change ``R^2`` or the LOO ``R^2``).

``convention="reference"`` reproduces the published study's script (riemannian-biometric-geometry,
``scripts/07_correlation_analysis.py``): every metric's bootstrap restarts a legacy
``numpy.random.RandomState(seed)`` and draws ``randint(0, n, n)`` per resample (what its
``RandomState.choice`` does), and the OLS z-scores the predictors with the population SD
(``ddof=0``) and keeps the target on its own scale, so coefficients are in EER units and the
intercept is the mean EER. ``R^2``, adjusted and LOO ``R^2``, ``r``, ``rho`` and p-values are the
same under both conventions.

Reading tables from CSV is in :mod:`facevoice.analysis.correlation.study`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _xy(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if x.size < 3:
        raise ValueError(f"correlation needs at least 3 pairs, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    return x, y


def _rowwise_r(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis of ``(..., n)`` arrays; NaN where a row is constant."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt(np.sum(xc * xc, axis=-1) * np.sum(yc * yc, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(xc * yc, axis=-1) / den
    r = np.where(den > 0, r, np.nan)
    return np.clip(r, -1.0, 1.0)


def _t_pvalue(r: float, n: int) -> float:
    from scipy import stats

    if abs(r) >= 1.0:
        return 0.0
    t = r * np.sqrt((n - 2) / (1.0 - r * r))
    return float(2.0 * stats.t.sf(abs(t), n - 2))


def pearson(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Pearson ``(r, two-sided p)`` of ``x`` ``(n,)`` and ``y`` ``(n,)``."""
    x, y = _xy(x, y)
    r = float(_rowwise_r(x, y))
    if np.isnan(r):
        raise ValueError("Pearson correlation is undefined for a constant column")
    return r, _t_pvalue(r, x.size)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman ``(rho, two-sided p)`` of ``x`` ``(n,)`` and ``y`` ``(n,)``; ties get average ranks."""
    from scipy.stats import rankdata

    x, y = _xy(x, y)
    return pearson(rankdata(x), rankdata(y))


CONVENTIONS = ("standard", "reference")


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def bootstrap_ci(
    x: Sequence[float],
    y: Sequence[float],
    method: str = "spearman",
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
    rng: str = "generator",
) -> tuple[float, float, int]:
    """Percentile bootstrap CI of a correlation: ``(low, high, n_valid_resamples)``.

    Args:
        x, y: ``(n,)``; method: ``"spearman"`` or ``"pearson"``; ci: coverage in ``(0, 1)``.
        rng: ``"generator"`` (``numpy.random.default_rng(seed)``) or ``"legacy"``
            (``numpy.random.RandomState(seed)``, the published study's resampling stream).
    """
    from scipy.stats import rankdata

    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be 'spearman' or 'pearson', got {method!r}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if rng not in ("generator", "legacy"):
        raise ValueError(f"rng must be 'generator' or 'legacy', got {rng!r}")
    x, y = _xy(x, y)
    if rng == "legacy":  # RandomState.choice(n, n, replace=True) is randint(0, n, n): one stream for all resamples
        idx = np.random.RandomState(seed).randint(0, x.size, size=(n_boot, x.size))
    else:
        idx = np.random.default_rng(seed).integers(0, x.size, size=(n_boot, x.size))
    bx, by = x[idx], y[idx]
    if method == "spearman":
        bx, by = rankdata(bx, axis=1), rankdata(by, axis=1)
    r = _rowwise_r(bx, by)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), float("nan"), 0
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(r, [alpha, 1.0 - alpha])
    return float(lo), float(hi), int(r.size)


def correlate(
    table: pd.DataFrame,
    metrics: Sequence[str],
    target: str,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
    convention: str = "standard",
    pairwise: bool = False,
) -> pd.DataFrame:
    """Spearman and Pearson of each metric column against ``target``, with p-values and bootstrap CIs.

    Args:
        table: one row per encoder pair, numeric columns ``metrics`` and ``target``.
        convention: ``"standard"`` (bootstrap seeded ``seed + i`` for the i-th metric, numpy
            Generator) or ``"reference"`` (legacy ``RandomState(seed)`` restarted for every metric).
        pairwise: each metric uses the rows where it and the target are present (the reference
            script's handling of missing values); otherwise missing values are an error.

    Returns:
        One row per metric: ``metric, n, spearman_rho, spearman_p, spearman_ci_low, spearman_ci_high,
        pearson_r, pearson_p, pearson_ci_low, pearson_ci_high, n_boot_valid``.
    """
    _check_convention(convention)
    _require_columns(table, [*metrics, target], allow_missing=pairwise)
    rows = []
    for i, m in enumerate(metrics):
        x = table[m].to_numpy(dtype=np.float64)
        y = table[target].to_numpy(dtype=np.float64)
        if pairwise:
            ok = np.isfinite(x) & np.isfinite(y)
            x, y = x[ok], y[ok]
        try:
            rho, p_rho = spearman(x, y)
            r, p_r = pearson(x, y)
        except ValueError as exc:
            raise ValueError(f"metric {m!r}: {exc}") from exc
        bseed, brng = (seed, "legacy") if convention == "reference" else (seed + i, "generator")
        s_lo, s_hi, nv = bootstrap_ci(x, y, "spearman", n_boot, ci, bseed, brng)
        p_lo, p_hi, _ = bootstrap_ci(x, y, "pearson", n_boot, ci, bseed, brng)
        rows.append(
            {
                "metric": m,
                "n": x.size,
                "spearman_rho": rho,
                "spearman_p": p_rho,
                "spearman_ci_low": s_lo,
                "spearman_ci_high": s_hi,
                "pearson_r": r,
                "pearson_p": p_r,
                "pearson_ci_low": p_lo,
                "pearson_ci_high": p_hi,
                "n_boot_valid": nv,
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


@dataclass
class OLSResult:
    """OLS of the target on z-scored predictors (with intercept); see :func:`ols` for the scaling."""

    predictors: list[str]
    target: str
    n: int
    coef: dict[str, float]
    std_err: dict[str, float]
    p_values: dict[str, float]
    r2: float
    adj_r2: float
    loo_r2: float
    f_pvalue: float
    loo_pred: np.ndarray = field(repr=False)

    def as_row(self) -> dict:
        """Flat dict for a results table."""
        row = {"model": " + ".join(self.predictors), "target": self.target, "n": self.n, "r2": self.r2,
               "adj_r2": self.adj_r2, "loo_r2": self.loo_r2, "f_pvalue": self.f_pvalue}  # fmt: skip
        row["beta[intercept]"] = self.coef["intercept"]
        for k in self.predictors:
            row[f"beta[{k}]"] = self.coef[k]
            row[f"p[{k}]"] = self.p_values[k]
        return row


def _zscore(a: np.ndarray, name: str, ddof: int = 1) -> np.ndarray:
    sd = a.std(axis=0, ddof=ddof)
    if np.any(sd == 0):
        raise ValueError(f"cannot z-score a constant column: {name}")
    return (a - a.mean(axis=0)) / sd


def ols(table: pd.DataFrame, predictors: Sequence[str], target: str, convention: str = "standard") -> OLSResult:
    """Fit the OLS of the target on z-scored predictors; see the module docstring for the figures.

    Args:
        table: ``n`` rows with numeric ``predictors`` (``p`` columns) and ``target``; needs ``n > p + 1``.
        convention: ``"standard"``: ``z(target) ~ 1 + z(predictors)`` with sample SDs (``ddof=1``), so
            coefficients are standardised betas; ``"reference"``: ``target ~ 1 + z0(predictors)`` with
            population SDs (``ddof=0``), as the published study's scikit-learn fit.
    """
    from scipy import stats

    _check_convention(convention)
    predictors = list(predictors)
    _require_columns(table, [*predictors, target])
    n, p = len(table), len(predictors)
    if n <= p + 1:
        raise ValueError(f"OLS with {p} predictor(s) needs more than {p + 1} rows, got {n}")
    t_raw = table[target].to_numpy(dtype=np.float64)
    if convention == "reference":
        X = _zscore(table[predictors].to_numpy(dtype=np.float64), ", ".join(predictors), ddof=0)
        y = t_raw.copy()
        if np.ptp(y) == 0:
            raise ValueError(f"cannot fit a constant target: {target}")
    else:
        X = _zscore(table[predictors].to_numpy(dtype=np.float64), ", ".join(predictors))
        y = _zscore(t_raw, target)
    A = np.hstack([np.ones((n, 1)), X])
    AtA_inv = np.linalg.pinv(A.T @ A)
    beta = AtA_inv @ A.T @ y
    resid = y - A @ beta
    rss, tss = float(resid @ resid), float(np.sum((y - y.mean()) ** 2))
    dof = n - p - 1
    r2 = 1.0 - rss / tss
    adj = 1.0 - (1.0 - r2) * (n - 1) / dof
    se = np.sqrt(np.maximum(np.diag(AtA_inv) * rss / dof, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tvals = beta / se
    pvals = 2.0 * stats.t.sf(np.abs(tvals), dof)
    f_p = float(stats.f.sf((r2 / p) / ((1.0 - r2) / dof), p, dof)) if r2 < 1.0 else 0.0
    # Leave-one-out predictions from the hat matrix: y_i - yhat_(-i) = e_i / (1 - h_ii); a point with
    # leverage 1 (it alone fixes a coefficient) is refitted explicitly.
    h = np.einsum("ij,jk,ik->i", A, AtA_inv, A)
    loo = np.empty(n)
    for i in range(n):
        if h[i] < 1.0 - 1e-10:
            loo[i] = y[i] - resid[i] / (1.0 - h[i])
        else:
            keep = np.arange(n) != i
            b, *_ = np.linalg.lstsq(A[keep], y[keep], rcond=None)
            loo[i] = A[i] @ b
    press = float(np.sum((y - loo) ** 2))
    # Report LOO predictions on the target's own scale.
    loo_raw = loo if convention == "reference" else loo * t_raw.std(ddof=1) + t_raw.mean()
    names = ["intercept", *predictors]
    return OLSResult(
        predictors, target, n, dict(zip(names, beta.tolist(), strict=True)), dict(zip(names, se.tolist(), strict=True)),
        dict(zip(names, pvals.tolist(), strict=True)), r2, adj, 1.0 - press / tss, f_p, loo_raw,
    )  # fmt: skip


def _require_columns(table: pd.DataFrame, cols: Sequence[str], allow_missing: bool = False) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise KeyError(f"column(s) {missing} not in table; available: {list(table.columns)}")
    if allow_missing:
        return
    bad = [c for c in cols if table[c].isna().any()]
    if bad:
        raise ValueError(f"column(s) {bad} contain missing values; drop those rows first")
