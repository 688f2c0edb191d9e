"""Calibration of verification scores read as log-likelihood ratios (pure numpy).

A back-end that outputs log-likelihood ratios ``llr = log p(s | same) - log p(s | different)``
(natural log) can be used at any operating point by thresholding at the Bayes threshold
``log(c_fa (1 - p_target) / (c_miss p_target))``. Whether that works is *calibration*, and it is
measured separately from discrimination (EER, AUC, minDCF) by:

:func:`cllr`
    the log-likelihood-ratio cost (Brümmer & du Preez, 2006), in bits:
    ``½ [mean_targets log2(1 + e^-llr) + mean_non-targets log2(1 + e^llr)]``. 0 is perfect; 1 is
    what an uninformative system that always says ``llr = 0`` costs; a confident, wrong system
    costs more than 1.
:func:`min_cllr`
    the Cllr after the best monotone recalibration of the scores on the same trials: the
    pool-adjacent-violators (PAV) fit of the labels against the scores gives the optimal
    non-decreasing posterior; turned into LLRs with the trial list's own target proportion, it
    has the least Cllr any monotone map of the scores can reach. ``cllr - min_cllr`` is the
    calibration loss; ``min_cllr`` alone is a discrimination figure valid for any score.
:func:`actual_dcf`
    the detection cost at the Bayes threshold (scores taken as LLRs), normalised like
    :func:`~facevoice.eval.metrics.binary.min_dcf`; ``actual_dcf - min_dcf`` is the cost of
    mis-calibration at that operating point.

Conventions as in :mod:`facevoice.eval.metrics.binary`: ``scores (T,)`` higher = same person,
``labels (T,)`` 1 = target; a trial is accepted when ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np

from facevoice.eval.metrics.checks import check_binary_inputs

__all__ = ["actual_dcf", "bayes_threshold", "calibration_report", "cllr", "min_cllr", "pav_llr"]

_LN2 = np.log(2.0)


def _cost_bits(llr: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-trial logistic cost in bits: ``log2(1 + e^-llr)`` for targets, ``log2(1 + e^llr)`` otherwise."""
    signed = np.where(target, -llr, llr)
    with np.errstate(invalid="ignore"):  # -inf + inf cannot occur: logaddexp(0, -inf) = 0
        return np.logaddexp(0.0, signed) / _LN2


def _cllr(llr: np.ndarray, y: np.ndarray) -> float:
    c = _cost_bits(llr, y)
    return float(0.5 * (c[y].mean() + c[~y].mean()))


def cllr(scores, labels) -> float:
    """Log-likelihood-ratio cost (bits) of ``scores (T,)`` read as natural-log LLRs; ``labels (T,)`` 0/1."""
    s, y = check_binary_inputs(scores, labels)
    return _cllr(s, y)


def pav_llr(scores, labels) -> np.ndarray:
    """LLRs ``(T,)`` of the optimal monotone (PAV) recalibration of ``scores`` on these trials.

    Trials are sorted by score; equal scores are pooled into one block first (a monotone map
    cannot separate them); adjacent blocks whose target proportions decrease are merged until the
    proportions increase. A block's posterior ``p`` becomes ``logit(p) - logit(P)`` with ``P`` the
    list's target proportion, so ``+inf`` / ``-inf`` for blocks of targets / non-targets only.
    """
    s, y = check_binary_inputs(scores, labels)
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    # blocks of tied scores: (sum of labels, count)
    sums = list(np.add.reduceat(y_sorted, starts))
    counts = list(np.diff(np.r_[starts, s.size]).astype(np.float64))
    members = [1] * len(sums)  # how many tie-blocks each pooled block holds
    out_sum, out_cnt, out_mem = [], [], []
    for ys, n, k in zip(sums, counts, members, strict=True):
        out_sum.append(ys)
        out_cnt.append(n)
        out_mem.append(k)
        while len(out_sum) > 1 and out_sum[-2] * out_cnt[-1] >= out_sum[-1] * out_cnt[-2]:
            ys2, n2, k2 = out_sum.pop(), out_cnt.pop(), out_mem.pop()
            out_sum[-1] += ys2
            out_cnt[-1] += n2
            out_mem[-1] += k2
    post_blocks = np.asarray(out_sum) / np.asarray(out_cnt)
    post_ties = np.repeat(post_blocks, out_mem)  # one value per tie-block
    post_sorted = np.repeat(post_ties, np.diff(np.r_[starts, s.size]))
    post = np.empty_like(post_sorted)
    post[order] = post_sorted
    n_tar = float(y.sum())
    prior_log_odds = np.log(n_tar) - np.log(s.size - n_tar)
    with np.errstate(divide="ignore"):
        return np.log(post) - np.log1p(-post) - prior_log_odds


def min_cllr(scores, labels) -> float:
    """Cllr (bits) after the optimal monotone recalibration of ``scores`` (:func:`pav_llr`)."""
    s, y = check_binary_inputs(scores, labels)
    return _cllr(pav_llr(s, y), y)


def bayes_threshold(p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """The LLR threshold that minimises the expected cost: ``log(c_fa (1 - p) / (c_miss p))``."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must lie strictly between 0 and 1, got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"c_miss and c_fa must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    return float(np.log(c_fa * (1.0 - p_target)) - np.log(c_miss * p_target))


def actual_dcf(
    scores, labels, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0, normalize: bool = True
) -> float:
    """Detection cost of accepting ``score >= bayes_threshold(...)`` (scores read as LLRs).

    ``c_miss p P_miss + c_fa (1 - p) P_fa``, divided by ``min(c_miss p, c_fa (1 - p))`` when
    ``normalize`` (the same normalisation as ``min_dcf``, so ``actual_dcf >= min_dcf``).
    """
    s, y = check_binary_inputs(scores, labels)
    thr = bayes_threshold(p_target, c_miss, c_fa)
    accept = s >= thr
    cost = c_miss * p_target * np.mean(~accept[y]) + c_fa * (1.0 - p_target) * np.mean(accept[~y])
    if normalize:
        cost /= min(c_miss * p_target, c_fa * (1.0 - p_target))
    return float(cost)


def calibration_report(scores, labels, p_target: float = 0.01) -> dict:
    """``cllr``, ``min_cllr`` (bits) and ``act_dcf`` at ``p_target`` (unit costs) from one validation."""
    s, y = check_binary_inputs(scores, labels)
    return {
        "cllr": _cllr(s, y),
        "min_cllr": _cllr(pav_llr(s, y), y),
        "act_dcf": actual_dcf(s, y, p_target=p_target),
    }
