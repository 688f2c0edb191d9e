"""Slow, obvious reference implementations of the metrics in facevoice.eval.metrics.

Plain Python loops and exact fractions; only for small inputs in tests.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np


def brute_roc_points(scores, labels) -> list[tuple[float, Fraction, Fraction]]:
    """``[(threshold, fpr, tpr)]`` for +inf and every distinct score, descending, by counting."""
    scores = [float(v) for v in scores]
    labels = [int(v) for v in labels]
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    points = []
    for thr in [float("inf")] + sorted(set(scores), reverse=True):
        tp = fp = 0
        for s, lab in zip(scores, labels, strict=True):
            if s >= thr:
                if lab == 1:
                    tp += 1
                else:
                    fp += 1
        points.append((thr, Fraction(fp, n_neg), Fraction(tp, n_pos)))
    return points


def brute_eer(scores, labels) -> tuple[float, float]:
    """Sweep every threshold; interpolate linearly where FNR - FPR changes sign."""
    points = brute_roc_points(scores, labels)
    for (thr_a, fpr_a, tpr_a), (thr_b, fpr_b, tpr_b) in itertools.pairwise(points):
        d_a = (1 - tpr_a) - fpr_a
        d_b = (1 - tpr_b) - fpr_b
        if d_b == 0:
            return float(fpr_b), thr_b
        if d_a > 0 > d_b:
            t = d_a / (d_a - d_b)
            start = thr_a if thr_a != float("inf") else thr_b
            return float(fpr_a + t * (fpr_b - fpr_a)), start + float(t) * (thr_b - start)
    raise AssertionError("FNR - FPR never changed sign")


def brute_auc(scores, labels) -> float:
    """Count every (positive, negative) pair: 1 if the positive scores higher, 1/2 on a tie."""
    pos = [s for s, lab in zip(scores, labels, strict=True) if lab == 1]
    neg = [s for s, lab in zip(scores, labels, strict=True) if lab == 0]
    total = Fraction(0)
    for p in pos:
        for n in neg:
            total += 1 if p > n else (Fraction(1, 2) if p == n else 0)
    return float(total / (len(pos) * len(neg)))


def brute_min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0) -> float:
    """Normalised minimum DCF by evaluating the cost at every threshold."""
    best = None
    for _, fpr, tpr in brute_roc_points(scores, labels):
        cost = c_miss * p_target * float(1 - tpr) + c_fa * (1 - p_target) * float(fpr)
        best = cost if best is None else min(best, cost)
    return best / min(c_miss * p_target, c_fa * (1 - p_target))


def _tie_respecting_orders(row):
    """All orderings of the candidates that sort ``row`` in non-increasing order (equally likely)."""
    for perm in itertools.permutations(range(len(row))):
        if all(row[perm[i]] >= row[perm[i + 1]] for i in range(len(perm) - 1)):
            yield perm


def brute_hit_at_k(row, relevant_row, k: int) -> float:
    """Probability, over random tie-breaking, of a relevant candidate in the top k (enumerates orders)."""
    orders = list(_tie_respecting_orders(row))
    hits = sum(any(relevant_row[j] for j in order[:k]) for order in orders)
    return hits / len(orders)


def brute_one_to_n(scores, target) -> float:
    """1:N accuracy by enumerating every tie-breaking order of every row."""
    total = 0.0
    for row, t in zip(scores, target, strict=True):
        rel = [j == t for j in range(len(row))]
        total += brute_hit_at_k(list(row), rel, 1)
    return total / len(scores)


def brute_average_precision(row, relevant_row) -> float:
    """AP = sum over distinct thresholds (descending) of (recall gain) * precision, by loops."""
    row = [float(v) for v in row]
    n_rel = sum(bool(r) for r in relevant_row)
    ap = 0.0
    prev_recall = 0.0
    for thr in sorted(set(row), reverse=True):
        retrieved = [j for j in range(len(row)) if row[j] >= thr]
        tp = sum(bool(relevant_row[j]) for j in retrieved)
        recall = tp / n_rel
        ap += (recall - prev_recall) * (tp / len(retrieved))
        prev_recall = recall
    return ap


def brute_fop_eer(emb1, emb2, labels, variant="fop", n_folds=10) -> tuple[float, float]:
    """The FOP/PAEFF/SBNet procedure, written out: squared L2 distance, `d < θ` on
    np.arange(0, 4, 0.01), sklearn KFold without shuffling, curves averaged over folds, then the
    EER at argmin |FNR - FPR|. Returns ``(eer, auc)``."""
    from sklearn.metrics import auc as sk_auc
    from sklearn.model_selection import KFold

    labels = np.asarray(labels, dtype=bool)
    dist = np.sum((np.asarray(emb1) - np.asarray(emb2)) ** 2, axis=1)
    thresholds = np.arange(0, 4, 0.01)
    tprs = np.zeros((n_folds, len(thresholds)))
    fprs = np.zeros((n_folds, len(thresholds)))
    for f, (_, test) in enumerate(KFold(n_splits=n_folds, shuffle=False).split(np.arange(len(dist)))):
        for i, thr in enumerate(thresholds):
            tp = fp = tn = fn = 0
            for j in test:
                accept = dist[j] < thr
                if accept and labels[j]:
                    tp += 1
                elif accept:
                    fp += 1
                elif labels[j]:
                    fn += 1
                else:
                    tn += 1
            tprs[f, i] = 0 if tp + fn == 0 else tp / (tp + fn)
            fprs[f, i] = 0 if fp + tn == 0 else fp / (fp + tn)
    tpr, fpr = tprs.mean(0), fprs.mean(0)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    value = fpr[i] if variant == "fop" else (fpr[i] + fnr[i]) / 2
    return float(value), float(sk_auc(fpr, tpr))


def loop_cllr(llrs, labels) -> float:
    """Cllr in bits by its definition, one trial at a time."""
    import math

    tar = [math.log2(1 + math.exp(-s)) for s, y in zip(llrs, labels, strict=True) if y == 1]
    non = [math.log2(1 + math.exp(s)) for s, y in zip(llrs, labels, strict=True) if y == 0]
    return 0.5 * (sum(tar) / len(tar) + sum(non) / len(non))


def loop_actual_dcf(llrs, labels, p_target: float) -> float:
    """Normalised cost of accepting llr >= log((1 - p) / p), counted trial by trial."""
    import math

    thr = math.log((1 - p_target) / p_target)
    n_tar = sum(1 for y in labels if y == 1)
    n_non = len(labels) - n_tar
    miss = sum(1 for s, y in zip(llrs, labels, strict=True) if y == 1 and s < thr)
    fa = sum(1 for s, y in zip(llrs, labels, strict=True) if y == 0 and s >= thr)
    return (p_target * miss / n_tar + (1 - p_target) * fa / n_non) / min(p_target, 1 - p_target)
