"""Input validation shared by the metric functions (pure numpy).

Every check raises ``ValueError`` with a message that names the argument and the problem
(shape, count of non-finite values, offending label values, missing class), so that a bad
score file is never turned into a silently wrong number.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "check_binary_inputs",
    "check_finite",
    "check_score_matrix",
    "check_relevance_chunk",
    "row_chunks",
]


def _numeric(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric (bool, int or float), got dtype {a.dtype}")
    return a


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` giving how many NaN / infinite values ``a`` holds (any shape)."""
    if a.dtype.kind != "f":
        return
    finite = np.isfinite(a)
    if finite.all():
        return
    n_nan = int(np.isnan(a).sum())
    n_inf = int(a.size - finite.sum()) - n_nan
    raise ValueError(f"{name} must be finite: found {n_nan} NaN and {n_inf} infinite value(s) out of {a.size}")


def _binary_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    if labels.dtype.kind == "b":
        return labels
    _numeric(labels, name)
    ok = (labels == 0) | (labels == 1)
    if not ok.all():
        bad = np.unique(labels[~ok])
        shown = ", ".join(repr(v.item()) for v in bad[:5]) + (", ..." if bad.size > 5 else "")
        raise ValueError(
            f"{name} must be binary (1 = same person, 0 = different person); "
            f"found {int((~ok).sum())} other value(s): {shown}"
        )
    return labels.astype(bool)


def check_binary_inputs(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validate a verification trial list.

    Args:
        scores: ``(T,)`` numeric, finite; higher = more likely the same person.
        labels: ``(T,)`` bool or 0/1; 1 = same person.

    Returns:
        ``(scores (T,) float64, labels (T,) bool)``.

    Raises:
        ValueError: wrong dimensionality, mismatched lengths, empty input, non-numeric or
            non-finite scores, non-binary labels, or only one class present.
    """
    s = np.asarray(scores)
    y = np.asarray(labels)
    if s.ndim != 1 or y.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D arrays, got shapes {s.shape} and {y.shape}")
    if s.shape[0] != y.shape[0]:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} scores vs {y.shape[0]} labels")
    if s.size == 0:
        raise ValueError("empty input: no trials given (scores and labels have length 0)")
    s = _numeric(s, "scores").astype(np.float64, copy=False)
    check_finite(s, "scores")
    y = _binary_labels(y)
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "both classes are needed (same-person and different-person trials): "
            f"got {n_pos} positive and {n_neg} negative label(s)"
        )
    return s, y


def check_score_matrix(scores, name: str = "scores", min_cols: int = 1) -> np.ndarray:
    """Validate a ``(P, C)`` score matrix (shape and dtype only; finiteness is checked per chunk).

    Integer and bool matrices are converted to float64; float matrices keep their dtype (no copy),
    so memory-mapped arrays stay memory-mapped.
    """
    a = np.asarray(scores)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (probes, candidates) matrix, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"empty input: {name} has shape {a.shape}")
    if a.shape[1] < min_cols:
        raise ValueError(f"{name} needs at least {min_cols} columns (candidates), got shape {a.shape}")
    _numeric(a, name)
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        a = a.astype(np.float64)
    return a


def check_relevance_chunk(rel: np.ndarray, start: int) -> np.ndarray:
    """Return a relevance chunk as bool, raising on values other than 0/1 (``start``: its first row)."""
    if rel.dtype.kind == "b":
        return rel
    try:
        return _binary_labels(rel, name="relevant")
    except ValueError as err:
        raise ValueError(f"{err} (in rows starting at probe {start})") from None


def row_chunks(n_rows: int, n_cols: int, chunk_rows: int | None = None, budget: int = 1 << 22):
    """Yield ``(start, stop)`` row ranges so that one chunk holds about ``budget`` elements."""
    if chunk_rows is None:
        chunk_rows = max(1, budget // max(1, n_cols))
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    for start in range(0, n_rows, chunk_rows):
        yield start, min(n_rows, start + chunk_rows)
