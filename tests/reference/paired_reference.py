"""Slow, obvious paired cluster bootstrap: materialise every resampled trial list, score it twice."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def resampled_auc_differences(scores_a, scores_b, labels, clusters, n_boot, seed):
    """AUC(A) - AUC(B) on ``n_boot`` lists built by drawing whole clusters with replacement."""
    rng = np.random.default_rng(seed)
    ids = np.unique(clusters)
    members = {c: np.flatnonzero(clusters == c) for c in ids}
    out = []
    for _ in range(n_boot):
        rows = np.concatenate([members[c] for c in rng.choice(ids, size=ids.size, replace=True)])
        y = labels[rows]
        if y.min() == y.max():
            continue
        out.append(_rank_auc(scores_a[rows], y) - _rank_auc(scores_b[rows], y))
    return np.asarray(out)


def _rank_auc(scores, labels) -> float:
    """Mann-Whitney U of the targets over the non-targets (mid-ranks for ties), divided by its maximum."""
    ranks = rankdata(scores)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
