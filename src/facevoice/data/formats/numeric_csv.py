"""Parsing of headerless numeric feature CSVs (the FOP-style convention), shared by every reader.

:func:`read_feature_matrix` reads one file: feature columns, optionally a last label column, with
1-based line numbers in every error (:class:`FormatError`), trailing blank lines ignored and
integral labels written one way (:func:`canonical_labels`). :mod:`facevoice.data.formats.fop` builds the
row-aligned face/voice readers on it.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

_INT_RE = re.compile(r"^[+-]?\d+$")
_INTEGRAL_RE = re.compile(r"^([+-]?\d+)(?:\.0*)?$")


class FormatError(ValueError):
    """A field-format file is malformed; the message names the file and the line."""


def require_file(path: str | Path) -> Path:
    """Return ``Path(path)``; raise ``FileNotFoundError`` naming it when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    return path


def _line_fields(path: Path, line_no: int) -> int:
    """Number of comma-separated fields on 1-based ``line_no`` of ``path`` (for error messages)."""
    with open(path, newline="") as fh:
        for i, row in enumerate(csv.reader(fh), start=1):
            if i == line_no:
                return len(row)
    return 0


def _raise_ragged(path: Path, line_no: int, n: int) -> None:
    k = _line_fields(path, line_no)
    if k != n:
        raise FormatError(f"{path} line {line_no}: has {k} fields, expected {n} like line 1 (ragged row)")


def _drop_trailing_blank_lines(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    """Drop empty lines at the end of the file; an empty line before a data row is an error."""
    blank = df.isna().all(axis=1).to_numpy()
    if not blank.any():
        return df
    end = len(blank)
    while end > 0 and blank[end - 1]:
        end -= 1
    if blank[:end].any():
        i = int(np.argmax(blank[:end]))
        raise FormatError(f"{path} line {i + 1}: empty line between data rows")
    return df.iloc[:end]


def canonical_labels(values: np.ndarray) -> np.ndarray:
    """Identity labels as text: stripped, and integral numbers written as integers (``"3.0"`` -> ``"3"``).

    Exporters write integer labels as ``3`` or ``3.0``; both mean the same identity. Other labels
    (``id10001``) are kept as they are.
    """
    out = np.char.strip(np.asarray(values).astype(str))
    integral = np.array([bool(_INTEGRAL_RE.match(v)) for v in out], dtype=bool)
    if integral.any():
        out = out.astype(object)
        out[integral] = [_INTEGRAL_RE.match(v).group(1).lstrip("+") for v in out[integral]]
        out = out.astype(str)
    return out


def _read_csv_columns(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a headerless numeric CSV whose last column may be a label.

    Returns ``F (N, n-1) float64`` (all columns but the last, checked finite) and ``last (N,)``
    str (the last column, raw text). Raises :class:`FormatError` naming the line of a ragged row,
    an empty field or a non-numeric / non-finite value.
    """
    with open(path, newline="") as fh:
        first = next(csv.reader(fh), None)
    if not first:
        raise FormatError(f"{path}: empty file (expected one comma-separated row per sample, no header)")
    n = len(first)
    if n < 2:
        raise FormatError(f"{path} line 1: only {n} column; expected feature columns plus a last column")
    try:
        df = pd.read_csv(path, header=None, dtype={n - 1: str}, skip_blank_lines=False, engine="c")
    except pd.errors.ParserError as exc:
        raise FormatError(f"{path}: ragged rows ({exc}); every row must have {n} fields like line 1") from exc
    if df.shape[1] != n:
        raise FormatError(f"{path}: expected {n} columns like line 1, pandas found {df.shape[1]}")
    df = _drop_trailing_blank_lines(path, df)
    feats = df.iloc[:, : n - 1]
    bad_cols = [c for c in feats.columns if feats[c].dtype.kind not in "fiu"]
    if bad_cols:
        first_bad = None
        for c in bad_cols:
            col = feats[c]
            bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
            i = int(np.argmax(bad.to_numpy()))
            if bad.iloc[i] and (first_bad is None or i < first_bad[0]):
                first_bad = (i, c, col.iloc[i])
        if first_bad is not None:
            i, c, v = first_bad
            _raise_ragged(path, i + 1, n)
            raise FormatError(f"{path} line {i + 1}: column {c + 1} is not numeric ({v!r})")
        feats = feats.apply(pd.to_numeric, errors="coerce")
    F = feats.to_numpy(dtype=np.float64)
    last = df.iloc[:, n - 1]
    missing = ~np.isfinite(F).all(axis=1) | last.isna().to_numpy()
    if missing.any():
        i = int(np.argmax(missing))
        _raise_ragged(path, i + 1, n)
        raise FormatError(f"{path} line {i + 1}: empty or non-finite value ({int(missing.sum())} such row(s))")
    return F, last.to_numpy(dtype=str)


def _split_features(path: Path, F: np.ndarray, last: np.ndarray, dim: int | None, label: bool | None):
    """Decide whether the last column is a label; return ``(X (N, D) float32, labels (N,) str | None)``.

    ``label=True``: the last column must be a label; ``dim`` (if given) must equal the feature count.
    ``label=None``: with ``dim`` the column count decides (``dim`` or ``dim + 1``); without it the
    last column is a label when any value is non-numeric or every value is an integer.
    """
    n_cols = F.shape[1] + 1
    numeric = pd.to_numeric(pd.Series(last), errors="coerce").to_numpy(dtype=np.float64)
    if dim is not None:
        if n_cols == dim + 1:
            has_label = True
        elif n_cols == dim and not label:
            has_label = False
            if not np.isfinite(numeric).all():
                i = int(np.argmax(~np.isfinite(numeric)))
                raise FormatError(
                    f"{path}: has {n_cols} columns and the last one holds text (line {i + 1}: {str(last[i])!r}), "
                    f"so it is a label column and only {n_cols - 1} feature columns remain; the model expects "
                    f"{dim}-d features ({dim} columns, or {dim + 1} with a label)"
                )
        else:
            want = f"{dim + 1}" if label else f"{dim} or {dim + 1}"
            raise FormatError(f"{path}: has {n_cols} columns, expected {want} for {dim}-d features")
    elif label:
        has_label = True
    else:
        has_label = bool(np.isnan(numeric).any()) or all(_INT_RE.match(v.strip()) for v in last)
    if has_label:
        return F.astype(np.float32), canonical_labels(last)
    if not np.isfinite(numeric).all():
        i = int(np.argmax(~np.isfinite(numeric)))
        raise FormatError(f"{path} line {i + 1}: last column is not a finite number ({str(last[i])!r})")
    if len(last) > 1 and all(_INT_RE.match(v.strip()) for v in last) and not np.array_equal(np.round(F), F):
        warnings.warn(
            f"{path}: the last of its {n_cols} feature columns holds only integers ({len(set(last))} distinct), "
            f"like an identity label; if it is one, the file has {n_cols - 1} features, not {n_cols}, "
            "and its scores are wrong",
            stacklevel=3,
        )
    return np.hstack([F, numeric[:, None]]).astype(np.float32), None


def read_feature_matrix(
    path: str | Path, dim: int | None = None, label: bool | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """One headerless feature CSV -> ``(X (N, D) float32, labels (N,) str | None)``.

    ``dim``: expected feature size (``dim`` columns, or ``dim + 1`` with a last label column);
    ``label``: True requires a label column, None decides as described in :func:`_split_features`.
    """
    path = require_file(path)
    return _split_features(path, *_read_csv_columns(path), dim, label)
