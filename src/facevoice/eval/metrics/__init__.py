"""Evaluation metrics: pure numpy functions of scores and labels.

Higher score = more likely the same person; trial labels 1 = same person, 0 = different.

Verification (``scores (T,)``, ``labels (T,)``):
    :func:`roc_curve`, :func:`det_curve` (equal to sklearn's), :func:`eer` (exact, interpolated on
    the ROC), :func:`auc` (Mann-Whitney, ties count 1/2), :func:`min_dcf`,
    :func:`verification_report`.
1:N matching and retrieval (``scores (P, C)``, chunked over rows):
    :func:`one_to_n_accuracy`, :func:`average_precision`, :func:`mean_average_precision`,
    :func:`recall_at_k`, :func:`retrieval_report` (ties: expected value of random tie-breaking).
Calibration (scores read as natural-log likelihood ratios):
    :func:`cllr`, :func:`min_cllr` (after the optimal monotone PAV recalibration, :func:`pav_llr`),
    :func:`actual_dcf` (cost at the Bayes threshold, :func:`bayes_threshold`),
    :func:`calibration_report`.
Reference-code estimator (to compare with published numbers only):
    :func:`reference_eer`, :func:`reference_roc`, :func:`reference_auc` (FOP/PAEFF/SBNet fixed
    400-threshold grid averaged over 10 contiguous folds).

Every function raises ``ValueError`` on empty input, mismatched shapes, non-binary labels,
one-class trial lists and NaN/inf scores (giving how many).
"""

from __future__ import annotations

from facevoice.eval.metrics.binary import EERResult, auc, det_curve, eer, min_dcf, roc_curve, verification_report
from facevoice.eval.metrics.calibration import (
    actual_dcf,
    bayes_threshold,
    calibration_report,
    cllr,
    min_cllr,
    pav_llr,
)
from facevoice.eval.metrics.grid import reference_auc, reference_eer, reference_roc
from facevoice.eval.metrics.ranking import (
    average_precision,
    mean_average_precision,
    one_to_n_accuracy,
    recall_at_k,
    retrieval_report,
)

__all__ = [
    "EERResult",
    "actual_dcf",
    "bayes_threshold",
    "calibration_report",
    "cllr",
    "min_cllr",
    "pav_llr",
    "auc",
    "average_precision",
    "det_curve",
    "eer",
    "mean_average_precision",
    "min_dcf",
    "one_to_n_accuracy",
    "recall_at_k",
    "reference_auc",
    "reference_eer",
    "reference_roc",
    "retrieval_report",
    "roc_curve",
    "verification_report",
]
