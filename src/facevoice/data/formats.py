"""Readers for the feature and trial-list formats used in the face-voice field.

FOP-style feature CSVs (FOP, SBNet, PAEFF releases; METHODS.md §1)
    No header, one row per sample. Training CSVs: the feature columns followed by one label column
    (the identity); the face CSV and the voice CSV are row-aligned (row i of both is the same
    identity) and :func:`read_fop_features` checks that they are.
FOP / PAEFF verification lists (``{face,voice}_veriflist_test_<constraint>_<split>.csv``)
    Row i of the face file and row i of the voice file form trial i. The reference code never
    reads a label: it declares every even row (0-based) a same-identity trial and every odd row a
    different-identity trial ("row parity", METHODS.md §5). :func:`read_fop_verification_list`
    uses explicit identity labels (a last column in both files, same person = equal labels) by
    default and offers the reference convention as ``labels="parity"``; with neither available it
    raises instead of guessing.

Every malformed input raises :class:`FormatError` naming the file and the (1-based) line. The
VoxCeleb1 / SSoS readers live in :mod:`facevoice.data.formats_vox`; ``from facevoice.data.formats
import read_vox1_meta`` (and ``read_ssos_split(s)``, ``read_ssos_trials``) works too (lazy re-export).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "FormatError",
    "FOPFeatures",
    "FOPVerificationList",
    "read_fop_features",
    "read_fop_verification_list",
]

_VOX_NAMES = ("read_vox1_meta", "read_ssos_split", "read_ssos_splits", "read_ssos_trials")
_INT_RE = re.compile(r"^[+-]?\d+$")


class FormatError(ValueError):
    """A field-format file is malformed; the message names the file and the line."""


def __getattr__(name: str):  # PEP 562: re-export the VoxCeleb readers without a circular import
    if name in _VOX_NAMES:
        from facevoice.data import formats_vox

        return getattr(formats_vox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    if dim is not None:
        if n_cols == dim + 1:
            has_label = True
        elif n_cols == dim and not label:
            has_label = False
        else:
            want = f"{dim + 1}" if label else f"{dim} or {dim + 1}"
            raise FormatError(f"{path}: has {n_cols} columns, expected {want} for {dim}-d features")
    elif label:
        has_label = True
    else:
        numeric = pd.to_numeric(pd.Series(last), errors="coerce")
        has_label = bool(numeric.isna().any()) or all(_INT_RE.match(v.strip()) for v in last)
    if has_label:
        return F.astype(np.float32), np.char.strip(last.astype(str))
    vals = pd.to_numeric(pd.Series(last), errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(vals).all():
        i = int(np.argmax(~np.isfinite(vals)))
        raise FormatError(f"{path} line {i + 1}: last column is not a finite number ({str(last[i])!r})")
    return np.hstack([F, vals[:, None]]).astype(np.float32), None


@dataclass
class FOPFeatures:
    """Row-aligned training features: ``face (N, Df)``, ``voice (N, Dv)`` float32, ``labels (N,)`` str."""

    face: np.ndarray
    voice: np.ndarray
    labels: np.ndarray


def _check_rows(face_csv: Path, voice_csv: Path, n_face: int, n_voice: int) -> None:
    if n_face != n_voice:
        raise FormatError(
            f"{voice_csv}: {n_voice} rows but {face_csv} has {n_face}; face and voice CSVs must be row-aligned"
        )


def read_fop_features(
    face_csv: str | Path, voice_csv: str | Path, *, face_dim: int | None = None, voice_dim: int | None = None
) -> FOPFeatures:
    """Read a FOP-style pair of training feature CSVs (last column = identity label).

    Args:
        face_csv, voice_csv: headerless CSVs, one row per sample, row i of both the same identity.
        face_dim, voice_dim: expected feature sizes (e.g. 4096 and 512); checked when given.

    Returns:
        :class:`FOPFeatures` with ``face (N, Df)``, ``voice (N, Dv)``, ``labels (N,)``.

    Raises:
        FormatError: ragged rows, non-numeric values, different row counts, or a label that differs
            between the two files (the first such line is named, with the count).
    """
    face_csv, voice_csv = require_file(face_csv), require_file(voice_csv)
    Xf, lf = _split_features(face_csv, *_read_csv_columns(face_csv), face_dim, True)
    Xv, lv = _split_features(voice_csv, *_read_csv_columns(voice_csv), voice_dim, True)
    _check_rows(face_csv, voice_csv, len(Xf), len(Xv))
    differ = lf != lv
    if differ.any():
        i = int(np.argmax(differ))
        raise FormatError(
            f"{voice_csv} line {i + 1}: label {str(lv[i])!r} differs from {face_csv} line {i + 1} label {str(lf[i])!r} "
            f"({int(differ.sum())} of {len(lf)} rows disagree; the files must be row-aligned)"
        )
    return FOPFeatures(Xf, Xv, lf)


@dataclass
class FOPVerificationList:
    """Trial i = (``voice[i]``, ``face[i]``) with ``labels[i]`` (1 = same person).

    ``face (T, Df)``, ``voice (T, Dv)`` float32, ``labels (T,)`` int8; ``label_source`` is
    ``"identity"`` or ``"parity"``; ``face_ids`` / ``voice_ids`` are the identity columns when the
    files have them; ``parity_agreement`` is the fraction of trials where the identity labels
    agree with the row-parity convention (None without identity columns).
    """

    face: np.ndarray
    voice: np.ndarray
    labels: np.ndarray
    label_source: str
    face_ids: np.ndarray | None = None
    voice_ids: np.ndarray | None = None
    parity_agreement: float | None = None

    def as_trials(self) -> tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray], pd.DataFrame]:
        """Item ids ``f<i>`` / ``v<i>`` with their features and a v2f trial table for the evaluator."""
        n = len(self.labels)
        fids, vids = [f"f{i}" for i in range(n)], [f"v{i}" for i in range(n)]
        trials = pd.DataFrame(
            {"probe_id": vids, "candidate_id": fids, "label": self.labels.astype(np.int8), "direction": "v2f"}
        )
        return (fids, self.face), (vids, self.voice), trials


def read_fop_verification_list(
    face_csv: str | Path,
    voice_csv: str | Path,
    *,
    labels: str = "auto",
    face_dim: int | None = None,
    voice_dim: int | None = None,
) -> FOPVerificationList:
    """Read a FOP/PAEFF verification list pair (row i of both files = trial i).

    Args:
        labels: ``"auto"`` (default): identity labels when both files end in a label column
            (``face_dim``/``voice_dim`` decide when given; otherwise a last column that is
            non-numeric or all-integer is a label), else raise; ``"identity"``: require them;
            ``"parity"``: the reference convention, even 0-based row = same person.
        face_dim, voice_dim: expected feature sizes (e.g. 4096, 512).

    Returns:
        :class:`FOPVerificationList`.
    """
    if labels not in ("auto", "identity", "parity"):
        raise ValueError(f"labels must be 'auto', 'identity' or 'parity', got {labels!r}")
    face_csv, voice_csv = require_file(face_csv), require_file(voice_csv)
    want = True if labels == "identity" else None
    Xf, lf = _split_features(face_csv, *_read_csv_columns(face_csv), face_dim, want)
    Xv, lv = _split_features(voice_csv, *_read_csv_columns(voice_csv), voice_dim, want)
    _check_rows(face_csv, voice_csv, len(Xf), len(Xv))
    if (lf is None) != (lv is None):
        has, lacks = (face_csv, voice_csv) if lf is not None else (voice_csv, face_csv)
        raise FormatError(f"{has} ends in a label column but {lacks} does not; pass face_dim/voice_dim to settle it")
    parity = (np.arange(len(Xf)) % 2 == 0).astype(np.int8)
    if lf is None:
        if labels != "parity":
            raise FormatError(
                f"{face_csv}, {voice_csv}: no label column, so trial labels are unknown; pass labels='parity' to "
                "use the FOP/PAEFF reference convention (even 0-based row = same person)"
            )
        return FOPVerificationList(Xf, Xv, parity, "parity")
    same = (lf == lv).astype(np.int8)
    agree = float(np.mean(same == parity))
    if labels == "parity":
        return FOPVerificationList(Xf, Xv, parity, "parity", lf, lv, agree)
    return FOPVerificationList(Xf, Xv, same, "identity", lf, lv, agree)
