"""Verification metrics on trial lists: ROC, DET, exact EER, AUC, minDCF (pure numpy).

Conventions: ``scores (T,)``, higher = more likely the same person; ``labels (T,)``, 1 = same
person (target), 0 = different person (non-target). A trial is *accepted* at threshold ``θ`` when
``score >= θ``. All curves are built once from the scores sorted in descending order, grouped by
distinct value, so tied scores always move together (as in ``sklearn.metrics.roc_curve``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from facevoice.eval.metrics.checks import check_binary_inputs

__all__ = ["EERResult", "roc_curve", "det_curve", "eer", "auc", "min_dcf", "verification_report"]


class EERResult(NamedTuple):
    """Equal error rate (a fraction in [0, 1]) and the score threshold where it is reached."""

    eer: float
    threshold: float


def _counts(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative (false, true) accept counts at each distinct score, descending.

    Returns ``fps (K,) int64, tps (K,) int64, thresholds (K,) float64``; entry k counts the trials
    with ``score >= thresholds[k]``. No (0, 0) point is included.
    """
    order = np.argsort(s)[::-1]
    s_sorted = s[order]
    ends = np.flatnonzero(s_sorted[1:] != s_sorted[:-1])
    idx = np.concatenate([ends, [s_sorted.size - 1]])
    tps = np.cumsum(y[order], dtype=np.int64)[idx]
    fps = (idx + 1) - tps
    return fps, tps, s_sorted[idx]


def _with_origin(fps, tps, thr):
    zero = np.zeros(1, dtype=np.int64)
    return np.concatenate([zero, fps]), np.concatenate([zero, tps]), np.concatenate([[np.inf], thr])


def roc_curve(scores, labels, drop_intermediate: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact ROC curve, equal to ``sklearn.metrics.roc_curve`` (pos_label=1, no weights).

    Args:
        scores: ``(T,)`` finite scores, higher = same person.
        labels: ``(T,)`` 0/1 or bool.
        drop_intermediate: drop collinear points exactly as sklearn does (sklearn's default is
            True; here it is False so that every distinct score is a threshold).

    Returns:
        ``fpr (K+1,), tpr (K+1,), thresholds (K+1,)``: thresholds are the K distinct scores in
        descending order preceded by ``+inf`` (the point (0, 0) where nothing is accepted).
    """
    s, y = check_binary_inputs(scores, labels)
    fps, tps, thr = _counts(s, y)
    if drop_intermediate and fps.size > 2:
        keep = np.concatenate([[True], (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), [True]])
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    fps, tps, thr = _with_origin(fps, tps, thr)
    return fps / fps[-1], tps / tps[-1], thr


def det_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detection error trade-off curve, equal to ``sklearn.metrics.det_curve`` (drop_intermediate=False).

    Returns:
        ``fpr (M,), fnr (M,), thresholds (M,)`` with thresholds increasing (fpr decreasing), running
        from the highest threshold where fnr is still 0 to the lowest where fpr is already 0 (the
        points outside carry no extra information on a DET plot).
    """
    s, y = check_binary_inputs(scores, labels)
    fps, tps, thr = _with_origin(*_counts(s, y))
    first = int(np.searchsorted(fps, 0, side="right")) - 1
    last = int(np.searchsorted(tps, tps[-1], side="left")) + 1
    sl = slice(first, last)
    return fps[sl][::-1] / fps[-1], (tps[-1] - tps[sl])[::-1] / tps[-1], thr[sl][::-1]


def _eer_from_counts(fps, tps, thr) -> EERResult:
    fps, tps, thr = _with_origin(fps, tps, thr)
    n_pos, n_neg = int(tps[-1]), int(fps[-1])
    # (FNR - FPR) * n_pos * n_neg in exact integers: +n_pos*n_neg at +inf, -n_pos*n_neg at the end,
    # strictly decreasing because every ROC point adds at least one trial.
    d = (n_pos - tps) * n_neg - fps * n_pos
    k = int(np.argmax(d <= 0))
    fpr_k = fps[k] / n_neg
    if d[k] == 0:
        return EERResult(float(fpr_k), float(thr[k]))
    a = k - 1
    t = d[a] / (d[a] - d[k])
    fpr_a = fps[a] / n_neg
    rate = fpr_a + t * (fpr_k - fpr_a)
    thr_a = thr[a] if np.isfinite(thr[a]) else thr[k]
    return EERResult(float(rate), float(thr_a + t * (thr[k] - thr_a)))


def eer(scores, labels) -> EERResult:
    """Exact equal error rate on the ROC, linearly interpolated.

    Definition: with ROC points ``(FPR_k, TPR_k)`` at every distinct score (plus (0, 0) at
    ``+inf``) and ``FNR_k = 1 - TPR_k``, the difference ``FNR_k - FPR_k`` falls strictly from 1 to
    -1. If it is 0 at a point, EER is that point's FPR and the threshold is its score. Otherwise,
    between the last point ``a`` with ``FNR > FPR`` and the next point ``b``, the ROC segment is
    followed linearly: ``t = d_a / (d_a - d_b)``, ``EER = FPR_a + t (FPR_b - FPR_a)`` (= the FNR
    there), and the threshold is interpolated the same way between the two scores (with ``θ_a``
    replaced by ``θ_b`` when ``a`` is the ``+inf`` point). Ties therefore count as a random
    tie-break: all-equal scores give 0.5, perfect separation 0, inverted scores 1. No convex hull.

    Args:
        scores: ``(T,)``; labels: ``(T,)`` 0/1.

    Returns:
        ``EERResult(eer, threshold)``, eer as a fraction.
    """
    return _eer_from_counts(*_counts(*check_binary_inputs(scores, labels)))


def _auc_from_counts(fps, tps) -> float:
    d_fp = np.diff(fps, prepend=0)
    d_tp = np.diff(tps, prepend=0)
    tp_before = tps - d_tp
    # twice the Mann-Whitney U in exact integers: each negative counts the positives ranked above
    # it, plus one half of the positives tied with it
    u2 = int(np.sum(d_fp * (2 * tp_before + d_tp)))
    return u2 / (2.0 * int(tps[-1]) * int(fps[-1]))


def auc(scores, labels) -> float:
    """Area under the ROC: ``P(s_pos > s_neg) + 0.5 P(s_pos = s_neg)`` (Mann-Whitney U / (P N)).

    Computed in O(T log T) from the scores sorted once and grouped by value, which is the mid-rank
    formula written on tie groups; equals ``sklearn.metrics.roc_auc_score``.

    Args:
        scores: ``(T,)``; labels: ``(T,)`` 0/1.
    """
    fps, tps, _ = _counts(*check_binary_inputs(scores, labels))
    return _auc_from_counts(fps, tps)


def _min_dcf_from_counts(fps, tps, thr, p_target, c_miss, c_fa, normalize) -> tuple[float, float]:
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must lie strictly between 0 and 1, got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"c_miss and c_fa must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    fps, tps, thr = _with_origin(fps, tps, thr)
    p_miss = 1.0 - tps / tps[-1]
    p_fa = fps / fps[-1]
    dcf = c_miss * p_target * p_miss + c_fa * (1.0 - p_target) * p_fa
    if normalize:
        dcf = dcf / min(c_miss * p_target, c_fa * (1.0 - p_target))
    k = int(np.argmin(dcf))
    return float(dcf[k]), float(thr[k])


def min_dcf(
    scores, labels, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0, normalize: bool = True
) -> tuple[float, float]:
    """Minimum detection cost over all thresholds (NIST SRE definition).

    ``DCF(θ) = c_miss p_target P_miss(θ) + c_fa (1 - p_target) P_fa(θ)``, minimised over the ROC
    points (``+inf``, i.e. reject all, included); divided by ``min(c_miss p_target, c_fa (1 -
    p_target))`` when ``normalize`` (so a system that always rejects or always accepts scores 1).

    Args:
        scores: ``(T,)``; labels: ``(T,)`` 0/1.

    Returns:
        ``(min_dcf, threshold)`` (threshold may be ``+inf``: reject every trial).
    """
    fps, tps, thr = _counts(*check_binary_inputs(scores, labels))
    return _min_dcf_from_counts(fps, tps, thr, p_target, c_miss, c_fa, normalize)


def verification_report(scores, labels, p_target: float = 0.01) -> dict:
    """All verification figures from one sort of the scores.

    Returns:
        dict with ``eer``, ``eer_threshold``, ``auc``, ``min_dcf``, ``min_dcf_threshold``,
        ``p_target``, ``n_trials``, ``n_pos``, ``n_neg`` (rates as fractions).
    """
    s, y = check_binary_inputs(scores, labels)
    fps, tps, thr = _counts(s, y)
    e = _eer_from_counts(fps, tps, thr)
    dcf, dcf_thr = _min_dcf_from_counts(fps, tps, thr, p_target, 1.0, 1.0, True)
    return {
        "eer": e.eer,
        "eer_threshold": e.threshold,
        "auc": _auc_from_counts(fps, tps),
        "min_dcf": dcf,
        "min_dcf_threshold": dcf_thr,
        "p_target": float(p_target),
        "n_trials": int(s.size),
        "n_pos": int(tps[-1]),
        "n_neg": int(fps[-1]),
    }
