"""The fixed-grid, 10-fold EER estimator of the FOP / SBNet / PAEFF reference code (METHODS.md §5).

Offered only to compare with published figures; facevoice's own EER is :func:`metrics.eer`.

What was matched (read from ``online_evaluation.py`` of msaadsaeed/FOP, msaadsaeed/SBNet and
hannabdul/paeff, which share the procedure; no code copied):

* The reference works on squared L2 distances of L2-normalised embeddings, ``d = 2 - 2 cos``,
  in [0, 4], and predicts "same" when ``d < θ`` (strict) for ``θ`` in ``np.arange(0, 4, 0.01)``
  (400 thresholds). Here a score is mapped to ``d = (hi - s) * 4 / (hi - lo)`` with
  ``score_range = (lo, hi)``, which is exactly ``2 - 2 cos`` for the default ``(-1, 1)``, and the
  grid is ``np.arange(0, 4, 4 / n_thresholds)``; thresholds are reported back in score units.
* Trials are split by ``KFold(n_splits=10, shuffle=False)``: contiguous blocks in list order, the
  first ``T % 10`` blocks one trial longer. The trial order therefore matters; pass trials in the
  order of the list file.
* In every fold TPR and FPR are computed at all grid thresholds (0 when the fold lacks that
  class); the two curves are *averaged over folds first*, and then the EER is read at the first
  grid index minimising ``|FNR - FPR|`` of the averaged curve: ``FPR`` there (FOP, PAEFF) or
  ``(FPR + FNR) / 2`` (SBNet). (The per-fold best-accuracy threshold the reference also picks
  only feeds its accuracy figure, not the EER.)
* The reference AUC is the trapezoid area under the averaged grid curve (``sklearn.metrics.auc``).
"""

from __future__ import annotations

import numpy as np

from facevoice.eval.metrics.binary import EERResult
from facevoice.eval.metrics.checks import check_binary_inputs

__all__ = ["reference_roc", "reference_eer", "reference_auc"]

_GRID_SPAN = 4.0  # squared-L2 range of unit vectors, the span of the reference grid


def reference_roc(
    scores,
    labels,
    n_thresholds: int = 400,
    n_folds: int = 10,
    score_range: tuple[float, float] = (-1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold-averaged ROC on the reference's fixed grid.

    Args:
        scores: ``(T,)`` in list order (cosine by default); labels: ``(T,)`` 0/1.
        n_thresholds: grid size (400 in the reference).
        n_folds: contiguous folds (10 in the reference); needs ``T >= n_folds``.
        score_range: ``(lo, hi)`` the grid spans; scores outside it behave as in the reference
            (a distance beyond the last grid point is never accepted).

    Returns:
        ``fpr (n_thresholds,), tpr (n_thresholds,), thresholds (n_thresholds,)``, thresholds in
        score units, decreasing; a trial is accepted at ``thresholds[i]`` when its score is above it.
    """
    s, y = check_binary_inputs(scores, labels)
    lo, hi = float(score_range[0]), float(score_range[1])
    if not hi > lo:
        raise ValueError(f"score_range must be (lo, hi) with hi > lo, got {score_range}")
    if int(n_thresholds) != n_thresholds or n_thresholds < 2:
        raise ValueError(f"n_thresholds must be an integer >= 2, got {n_thresholds!r}")
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    if s.size < n_folds:
        raise ValueError(f"reference_eer needs at least n_folds={n_folds} trials, got {s.size}")
    dist = (hi - s) * (_GRID_SPAN / (hi - lo))
    grid = np.arange(0.0, _GRID_SPAN, _GRID_SPAN / n_thresholds)[:n_thresholds]
    tprs = np.zeros((n_folds, grid.size))
    fprs = np.zeros((n_folds, grid.size))
    for f, idx in enumerate(np.array_split(np.arange(s.size), int(n_folds))):
        d, same = dist[idx], y[idx]
        pos, neg = np.sort(d[same]), np.sort(d[~same])
        if pos.size:
            tprs[f] = np.searchsorted(pos, grid, side="left") / pos.size  # count of d < θ
        if neg.size:
            fprs[f] = np.searchsorted(neg, grid, side="left") / neg.size
    thresholds = hi - grid * ((hi - lo) / _GRID_SPAN)
    return fprs.mean(axis=0), tprs.mean(axis=0), thresholds


def reference_eer(
    scores,
    labels,
    n_thresholds: int = 400,
    n_folds: int = 10,
    variant: str = "fop",
    score_range: tuple[float, float] = (-1.0, 1.0),
) -> EERResult:
    """EER as the FOP/PAEFF (``variant="fop"``) or SBNet (``variant="sbnet"``) code computes it.

    See the module docstring for what is matched. Args as :func:`reference_roc`.

    Returns:
        ``EERResult(eer, threshold)``: eer a fraction, threshold the grid score threshold chosen.
    """
    if variant not in ("fop", "sbnet"):
        raise ValueError(f"variant must be 'fop' or 'sbnet', got {variant!r}")
    fpr, tpr, thr = reference_roc(scores, labels, n_thresholds, n_folds, score_range)
    fnr = 1.0 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    value = fpr[i] if variant == "fop" else 0.5 * (fpr[i] + fnr[i])
    return EERResult(float(value), float(thr[i]))


def reference_auc(
    scores,
    labels,
    n_thresholds: int = 400,
    n_folds: int = 10,
    score_range: tuple[float, float] = (-1.0, 1.0),
) -> float:
    """Reference AUC: trapezoid area under the fold-averaged grid ROC (no (1, 1) end point added)."""
    fpr, tpr, _ = reference_roc(scores, labels, n_thresholds, n_folds, score_range)
    return float(np.trapezoid(tpr, fpr))
