"""1:N matching and retrieval metrics (pure numpy, chunked over probes).

Conventions: ``scores (P, C)``, one row per probe, one column per candidate, higher = more likely
the same person. Ties are scored as the *expected value under uniformly random tie-breaking*:
a correct candidate tied with k-1 others at the top counts 1/k in 1:N accuracy and in R@1, and
R@k is the probability that a random ordering of the tied block puts a relevant item in the top k.
Without ties every figure reduces to its usual definition. Average precision treats a block of
tied scores as one threshold (precision measured after the whole block), which is what
``sklearn.metrics.average_precision_score`` does.

Large matrices (e.g. 5,000 x 5,000 or memory-mapped) are processed in row chunks of about 4M
entries, so extra memory stays at a few chunk-sized temporaries.
"""

from __future__ import annotations

import warnings

import numpy as np

from facevoice.eval.metrics.checks import check_finite, check_relevance_chunk, check_score_matrix, row_chunks

__all__ = ["one_to_n_accuracy", "average_precision", "mean_average_precision", "recall_at_k", "retrieval_report"]


def _check_finite_matrix(S: np.ndarray, chunk_rows: int | None) -> None:
    if S.dtype.kind != "f":
        return
    n_nan = n_inf = 0
    for a, b in row_chunks(*S.shape, chunk_rows):
        try:
            check_finite(np.asarray(S[a:b]), "scores")
        except ValueError:
            c = np.asarray(S[a:b])
            nan = int(np.isnan(c).sum())
            n_nan += nan
            n_inf += int((~np.isfinite(c)).sum()) - nan
    if n_nan or n_inf:
        raise ValueError(f"scores must be finite: found {n_nan} NaN and {n_inf} infinite value(s) out of {S.size}")


def one_to_n_accuracy(scores, target=None, chunk_rows: int | None = None) -> float:
    """Accuracy of the argmax in 1:N matching.

    Args:
        scores: ``(G, N)``, one row per probe, N >= 2 candidates of the other modality.
        target: ``(G,)`` int column of the true match in each row; ``None`` = column 0 (the common
            layout where the matching candidate comes first).
        chunk_rows: rows per chunk (default: about 4M entries per chunk).

    Returns:
        Mean over probes of ``1/k`` if the target is among the k candidates sharing the row maximum,
        else 0 (expected accuracy of random tie-breaking).
    """
    S = check_score_matrix(scores, min_cols=2)
    G, N = S.shape
    if target is None:
        tgt = np.zeros(G, dtype=np.int64)
    else:
        tgt = np.asarray(target)
        if tgt.shape != (G,):
            raise ValueError(f"target must have shape ({G},) to match scores {S.shape}, got {tgt.shape}")
        if tgt.dtype.kind not in "iu":
            raise ValueError(f"target must hold integer column indices, got dtype {tgt.dtype}")
        bad = (tgt < 0) | (tgt >= N)
        if bad.any():
            raise ValueError(f"target holds {int(bad.sum())} index(es) outside [0, {N}), e.g. {tgt[bad][:5].tolist()}")
    _check_finite_matrix(S, chunk_rows)
    per_probe = np.empty(G)
    for a, b in row_chunks(G, N, chunk_rows):
        c = np.asarray(S[a:b])
        m = c.max(axis=1)
        n_top = (c == m[:, None]).sum(axis=1)
        hit = c[np.arange(b - a), tgt[a:b]] == m
        per_probe[a:b] = hit / n_top
    return float(per_probe.mean())


def _chunk_average_precision(c: np.ndarray, r: np.ndarray, rows: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """AP of the given rows of one chunk: mean over relevant items v of the precision at the end of
    v's tie block, ``#(relevant >= v) / #(candidates >= v)``."""
    rr, cc = np.nonzero(r)  # row-major: relevant items grouped by row
    vals = c[rr, cc]
    bounds = np.searchsorted(rr, np.arange(c.shape[0] + 1))
    srt = np.sort(c, axis=1)
    n_below = np.empty(vals.size, dtype=np.int64)
    for i in rows:  # one searchsorted per row; numpy has no row-wise searchsorted
        lo, hi = bounds[i], bounds[i + 1]
        n_below[lo:hi] = srt[i].searchsorted(vals[lo:hi], side="left")
    n_ge = c.shape[1] - n_below
    # relevant items at or above v: sort by (row, value); the first index of v's (row, value) run
    # counts the relevant items of the row below v
    order = np.lexsort((vals, rr))
    sv, sr = vals[order], rr[order]
    starts = np.ones(vals.size, dtype=bool)
    starts[1:] = (sr[1:] != sr[:-1]) | (sv[1:] != sv[:-1])
    run_start = np.maximum.accumulate(np.where(starts, np.arange(vals.size), 0))
    rel_ge = np.empty(vals.size, dtype=np.int64)
    rel_ge[order] = bounds[sr + 1] - run_start
    return np.add.reduceat(rel_ge / n_ge, bounds[rows]) / n_rel[rows]


def _chunk_hits(c: np.ndarray, r: np.ndarray, rows: np.ndarray, ks: tuple[int, ...]) -> np.ndarray:
    """Expected hit@k ``(len(ks), len(rows))`` under random tie-breaking, for rows with a relevant item."""
    if rows.size != c.shape[0]:
        c, r = c[rows], r[rows]
    best = np.where(r, c, -np.inf).max(axis=1)  # best relevant score of each row
    above = np.count_nonzero(c > best[:, None], axis=1)  # all irrelevant, ranked before the block
    tied = c == best[:, None]
    n_tied = np.count_nonzero(tied, axis=1)
    n_tied_irrelevant = n_tied - np.count_nonzero(tied & r, axis=1)
    out = np.empty((len(ks), rows.size))
    for j, k in enumerate(ks):
        slots = k - above  # places left in the top k for the tied block
        p_miss = np.ones(rows.size)
        for step in range(min(int(k), int(n_tied_irrelevant.max()) + 1)):
            # hypergeometric: the next slot also draws an irrelevant item from the block
            frac = np.clip(n_tied_irrelevant - step, 0, None) / np.maximum(n_tied - step, 1)
            p_miss *= np.where(step < slots, frac, 1.0)
        out[j] = 1.0 - p_miss
    return out


def _retrieval_stats(scores, relevant, ks: tuple[int, ...], chunk_rows: int | None):
    """Per-probe AP ``(P,)`` and expected hit@k ``(len(ks), P)``; NaN for probes with no relevant item."""
    S = check_score_matrix(scores)
    R = np.asarray(relevant)
    if R.shape != S.shape:
        raise ValueError(f"relevant must have the shape of scores {S.shape}, got {R.shape}")
    for k in ks:
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
    _check_finite_matrix(S, chunk_rows)
    P, C = S.shape
    ap = np.full(P, np.nan)
    hits = np.full((len(ks), P), np.nan)
    for a, b in row_chunks(P, C, chunk_rows):
        c = np.asarray(S[a:b])
        r = check_relevance_chunk(np.asarray(R[a:b]), a)
        n_rel = np.count_nonzero(r, axis=1)
        rows = np.flatnonzero(n_rel)
        if rows.size == 0:
            continue
        ap[a + rows] = _chunk_average_precision(c, r, rows, n_rel)
        if ks:
            hits[:, a + rows] = _chunk_hits(c, r, rows, ks)
    return ap, hits


def _mean_over_probes(values: np.ndarray, skip_empty: bool, what: str) -> float:
    empty = np.isnan(values)
    n_empty = int(empty.sum())
    if n_empty == values.size:
        raise ValueError(f"{what}: no probe has a relevant candidate ({values.size} probes)")
    if n_empty:
        where = np.flatnonzero(empty)[:5].tolist()
        if not skip_empty:
            raise ValueError(
                f"{what}: {n_empty} of {values.size} probes have no relevant candidate (e.g. rows {where}); "
                "pass skip_empty=True to exclude them"
            )
        warnings.warn(f"{what}: excluded {n_empty} of {values.size} probes with no relevant candidate", stacklevel=3)
    return float(np.mean(values[~empty]))


def average_precision(scores, relevant, chunk_rows: int | None = None) -> np.ndarray:
    """Average precision of each probe's ranking.

    ``AP = (1/R) * sum over relevant items of precision at that item's tie block``, equal to
    ``sklearn.metrics.average_precision_score`` on each row.

    Args:
        scores: ``(P, C)``; relevant: ``(P, C)`` bool or 0/1.

    Returns:
        ``(P,)`` float64; NaN for a probe with no relevant candidate (AP is undefined there).
    """
    return _retrieval_stats(scores, relevant, (), chunk_rows)[0]


def mean_average_precision(scores, relevant, skip_empty: bool = False, chunk_rows: int | None = None) -> float:
    """Mean of :func:`average_precision` over probes.

    Probes with no relevant candidate raise ``ValueError`` (with their count and first rows)
    unless ``skip_empty=True``, which excludes them and emits a warning giving how many.
    """
    return _mean_over_probes(average_precision(scores, relevant, chunk_rows), skip_empty, "mean_average_precision")


def recall_at_k(scores, relevant, k: int = 1, skip_empty: bool = False, chunk_rows: int | None = None) -> float:
    """Fraction of probes with at least one relevant candidate among the top ``k`` (R@k).

    Ties at the cut-off count with their probability under random tie-breaking. Probes with no
    relevant candidate are handled as in :func:`mean_average_precision`.

    Args:
        scores: ``(P, C)``; relevant: ``(P, C)`` bool or 0/1; k: positive int (k >= C gives 1).
    """
    hits = _retrieval_stats(scores, relevant, (k,), chunk_rows)[1][0]
    return _mean_over_probes(hits, skip_empty, f"recall_at_k(k={k})")


def retrieval_report(
    scores, relevant, ks: tuple[int, ...] = (1, 5, 10), skip_empty: bool = False, chunk_rows: int | None = None
) -> dict:
    """mAP and R@k in one pass over the matrix.

    Returns:
        dict with ``map``, ``recall@k`` for each k, ``n_probes`` (used), ``n_candidates`` and
        ``n_excluded`` (probes without a relevant candidate, only non-zero with ``skip_empty``).
    """
    ks = tuple(ks)
    ap, hits = _retrieval_stats(scores, relevant, ks, chunk_rows)
    out = {"map": _mean_over_probes(ap, skip_empty, "retrieval_report")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exclusion was reported once, for the mAP, just above
        for j, k in enumerate(ks):
            out[f"recall@{k}"] = _mean_over_probes(hits[j], skip_empty, "retrieval_report")
    n_excluded = int(np.isnan(ap).sum())
    out.update(n_probes=int(ap.size - n_excluded), n_candidates=int(np.shape(scores)[1]), n_excluded=n_excluded)
    return out
