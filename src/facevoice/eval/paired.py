"""Paired bootstrap of an AUC difference between two scorers on the same trial list (pure numpy).

Two systems scored on one trial list share its sampling noise: which probes were drawn and which
non-target each got. Comparing their AUCs with two independent intervals overstates the
uncertainty of the difference; resampling the list once per replicate and recomputing *both* AUCs
on it gives the distribution of the difference itself (a paired bootstrap, as in DeLong-style
comparisons of correlated ROC curves, but without the normality assumption).

The resampling unit is a *cluster* of trials (by default the probe): the trials of one probe item
are not independent, since they share the probe's embedding. A replicate draws the clusters with
replacement (multinomial counts); a trial's weight is its cluster's count. The weighted AUC is the
Mann–Whitney statistic with those weights (ties count one half), computed for all replicates at
once from one sort of the scores, so 1,000 replicates of a 4,000-trial list take well under a
second. ``scores_a`` may hold several runs of system A (training seeds, shape ``(S, T)``): the
statistic is then the mean over runs of ``AUC(A_s) - AUC(B)``, every run scored on the same
replicate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from facevoice.eval.metrics.checks import check_binary_inputs

__all__ = ["PairedDifference", "weighted_auc", "paired_auc_bootstrap", "verdict"]


class PairedDifference(NamedTuple):
    """``diff`` = mean AUC(A) − AUC(B) on the full list; ``lo``/``hi`` its percentile interval.

    ``p_le_0``: fraction of replicates with a difference ≤ 0 (one-sided bootstrap p-value of "A is
    better"); ``per_run``: the full-list difference of every run of A; ``n_boot`` replicates kept.
    """

    diff: float
    lo: float
    hi: float
    p_le_0: float
    per_run: tuple[float, ...]
    n_boot: int
    n_clusters: int


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of ``scores (T,)`` / ``labels (T,)`` under each row of ``weights (R, T)`` -> ``(R,)``.

    ``AUC = Σ_{i pos, j neg} w_i w_j ([s_i > s_j] + ½[s_i = s_j]) / (Σ_pos w · Σ_neg w)``; NaN for a
    row without positive or negative weight. With unit weights this is the ordinary AUC.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if W.shape[1] != s.size:
        raise ValueError(f"weights have {W.shape[1]} columns for {s.size} trials")
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted, W = s[order], y[order], W[:, order]
    starts = np.r_[0, np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1]  # one group per distinct score
    pos = np.add.reduceat(np.where(y_sorted, W, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(y_sorted, 0.0, W), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each score group
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    den = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def paired_auc_bootstrap(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    labels: np.ndarray,
    clusters: np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """Paired cluster bootstrap of ``mean_s AUC(scores_a[s]) − AUC(scores_b)``.

    Args:
        scores_a: ``(T,)`` or ``(S, T)`` scores of system A (S runs, e.g. training seeds).
        scores_b: ``(T,)`` scores of system B (the reference) on the same trials.
        labels: ``(T,)`` 1 = target, 0 = non-target.
        clusters: ``(T,)`` resampling unit of each trial (e.g. the probe id); default: every trial.
        n_boot: bootstrap replicates; level: coverage of the percentile interval; seed: RNG seed.
    """
    y = np.asarray(labels)
    A = np.atleast_2d(np.asarray(scores_a, dtype=np.float64))
    b = np.asarray(scores_b, dtype=np.float64)
    for s in (*A, b):
        check_binary_inputs(s, y)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    c = np.arange(y.size) if clusters is None else np.asarray(clusters)
    if c.shape != y.shape:
        raise ValueError(f"clusters have shape {c.shape} for {y.size} trials")
    _, cid = np.unique(c, return_inverse=True)
    n_c = int(cid.max()) + 1
    ones = np.ones((1, y.size))
    full_b = float(weighted_auc(b, y, ones)[0])
    per_run = tuple(float(weighted_auc(a, y, ones)[0]) - full_b for a in A)
    rng = np.random.default_rng(seed)
    diffs = np.empty(0)
    for start in range(0, n_boot, 250):  # chunks bound memory at 250 x T weights
        counts = rng.multinomial(n_c, np.full(n_c, 1.0 / n_c), size=min(250, n_boot - start))
        W = counts[:, cid].astype(np.float64)
        ref = weighted_auc(b, y, W)
        d = np.mean([weighted_auc(a, y, W) - ref for a in A], axis=0)
        diffs = np.r_[diffs, d]
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        raise ValueError("no bootstrap replicate had both targets and non-targets")
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(diffs, [tail, 100.0 - tail])
    return PairedDifference(
        diff=float(np.mean(per_run)),
        lo=float(lo),
        hi=float(hi),
        p_le_0=float(np.mean(diffs <= 0.0)),
        per_run=per_run,
        n_boot=int(diffs.size),
        n_clusters=n_c,
    )


def verdict(result: PairedDifference) -> str:
    """``"better"`` (interval above 0), ``"worse"`` (below 0) or ``"tie"`` (covers 0)."""
    if result.lo > 0.0:
        return "better"
    if result.hi < 0.0:
        return "worse"
    return "tie"
