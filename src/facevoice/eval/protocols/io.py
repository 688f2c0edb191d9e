"""Writers and readers of facevoice's protocol files (all tab-separated with a header line).

``trials.tsv``     ``probe_id candidate_id label direction constraint split`` (label 1 = same person).
                   :func:`read_trials` also accepts lists from elsewhere: tab-, comma- or
                   whitespace-separated, with or without a header (without one, columns are taken
                   in the order above and may stop after ``candidate_id``), label words such as
                   ``target`` / ``nontarget`` or ``true`` / ``false``. Missing labels read as -1
                   (resolved from identities at evaluation time); missing directions read as "".
``galleries.tsv``  ``gallery_id split direction n probe_id target_pos candidates`` with the N
                   candidate ids comma-joined and ``target_pos`` the 0-based index of the match.
``retrieval.tsv``  ``split direction role item_id``, role ``probe`` or ``candidate``.
``items.tsv``      item_id and the manifest columns the protocols need (identity, modality, ...).
``skips.tsv``      ``protocol split direction constraint probe_id reason``: probes a builder could not serve.

Every reader raises :class:`~facevoice.data.formats.fop.FormatError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.data.formats.fop import FormatError, require_file
from facevoice.eval.protocols.builders import (
    DIRECTIONS,
    GALLERY_COLUMNS,
    RETRIEVAL_COLUMNS,
    SKIP_COLUMNS,
    TRIAL_COLUMNS,
)

__all__ = [
    "read_text_rows",
    "parse_labels",
    "parse_floats",
    "write_trials",
    "read_trials",
    "write_galleries",
    "read_galleries",
    "write_table",
    "read_table",
]

POSITIVE_WORDS = {"1", "1.0", "true", "t", "yes", "y", "target", "tgt", "same", "positive", "pos", "genuine", "match"}
NEGATIVE_WORDS = {"0", "0.0", "-1", "false", "f", "no", "n", "nontarget", "non-target", "non_target", "impostor"}
NEGATIVE_WORDS |= {"imposter", "different", "diff", "negative", "neg", "nonmatch", "non-match"}
TRIAL_ALIASES = {
    "probe_id": ("probe_id", "probe", "enroll", "enrol", "enrollment", "query", "query_id", "voice_id"),
    "candidate_id": ("candidate_id", "candidate", "test", "test_id", "gallery", "target_id", "face_id"),
    "label": ("label", "labels", "is_same", "same", "key"),
    "direction": ("direction", "dir"),
    "constraint": ("constraint", "negatives", "condition"),
    "split": ("split", "set", "setting"),
}


def read_text_rows(path: str | Path) -> tuple[list[list[str]], np.ndarray, str]:
    """Tokenise a delimited text file; blank lines and ``#`` comments are skipped.

    The separator is taken from the first data line: tab if it has one, else comma, else runs of
    whitespace. Returns ``(rows, line_numbers (R,), separator)``; ragged rows raise ``FormatError``.
    """
    path = require_file(path)
    with open(path, encoding="utf-8-sig") as fh:
        lines = [(i, ln.rstrip("\r\n")) for i, ln in enumerate(fh, start=1)]
    lines = [(i, ln) for i, ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise FormatError(f"{path}: no data lines")
    first = lines[0][1]
    sep = "\t" if "\t" in first else ("," if "," in first else " ")
    split = str.split if sep == " " else (lambda ln: [t.strip() for t in ln.split(sep)])
    rows = [split(ln) for _, ln in lines]
    n = len(rows[0])
    for (line_no, _), row in zip(lines, rows, strict=True):
        if len(row) != n:
            raise FormatError(f"{path} line {line_no}: {len(row)} fields, expected {n} like line {lines[0][0]}")
    return rows, np.array([i for i, _ in lines]), sep


def parse_labels(values, path, line_nos: np.ndarray, column: str = "label") -> np.ndarray:
    """Map label words to int8 1/0 (``1 true target same ...`` / ``0 -1 false nontarget ...``).

    Raises ``FormatError`` naming the first line with an unknown value.
    """
    v = np.char.lower(np.asarray(values, dtype=str))
    pos, neg = np.isin(v, list(POSITIVE_WORDS)), np.isin(v, list(NEGATIVE_WORDS))
    bad = ~(pos | neg)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(
            f"{path} line {line_nos[i]}: {column} {values[i]!r} is not a label (use 1/0, true/false or "
            f"target/nontarget); {int(bad.sum())} such line(s)"
        )
    return pos.astype(np.int8)


def parse_floats(values, path, line_nos: np.ndarray, column: str = "score") -> np.ndarray:
    """Parse ``(R,)`` strings as finite float64; raise ``FormatError`` naming the first bad line."""
    out = pd.to_numeric(pd.Series(np.asarray(values, dtype=str)), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(f"{path} line {line_nos[i]}: {column} {values[i]!r} is not a finite number")
    return out


def _header_map(header: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, int] | None:
    """Column index of each canonical name found in a header row, or None if it is not a header."""
    found = {}
    for j, tok in enumerate(header):
        key = tok.strip().lower()
        for name, names in aliases.items():
            if key in names and name not in found:
                found[name] = j
                break
    return found or None


def _check_ids(df: pd.DataFrame, cols, path) -> None:
    for c in cols:
        bad = df[c].astype(str).str.contains(r"[\t\n\r]", regex=True)
        if bad.any():
            raise ValueError(f"{path}: {c} values may not contain tabs or newlines, e.g. {df.loc[bad, c].iloc[0]!r}")


def write_table(df: pd.DataFrame, path: str | Path, columns=None) -> Path:
    """Write ``df`` (``columns`` first, in order, when given) as a TSV with a header line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"cannot write {path}: missing column(s) {missing}")
        df = df[list(columns) + [c for c in df.columns if c not in columns]]
    _check_ids(df, [c for c in df.columns if df[c].dtype == object or str(df[c].dtype).startswith("str")], path)
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, sep="\t", index=False)
    tmp.replace(path)
    return path


def read_table(path: str | Path, columns=None) -> pd.DataFrame:
    """Read a TSV written by :func:`write_table` (all str); check the ``columns`` are present."""
    path = require_file(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, engine="c")
    except pd.errors.ParserError as exc:
        raise FormatError(f"{path}: ragged rows ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise FormatError(f"{path}: empty file") from exc
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise FormatError(f"{path} line 1: missing column(s) {missing}; header has {list(df.columns)}")
    return df


def write_trials(trials: pd.DataFrame, path: str | Path) -> Path:
    """Write a trial table (:data:`TRIAL_COLUMNS`) as ``trials.tsv``."""
    df = trials.copy()
    for c in TRIAL_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df["label"] = df["label"].astype(int)
    return write_table(df[list(TRIAL_COLUMNS)], path)


def read_trials(path: str | Path) -> pd.DataFrame:
    """Read a trial list (see the module docstring for the accepted layouts).

    Returns:
        DataFrame with :data:`TRIAL_COLUMNS`: ``label`` int8 (-1 where the file has no label column).
    """
    rows, line_nos, _ = read_text_rows(path)
    first = rows[0]
    header = _header_map(first, TRIAL_ALIASES)
    if header is not None and len(header) >= 2:
        missing = [c for c in ("probe_id", "candidate_id") if c not in header]
        if missing:
            raise FormatError(f"{path} line {line_nos[0]}: header {first} lacks {missing}")
        rows, line_nos = rows[1:], line_nos[1:]
        if not rows:
            raise FormatError(f"{path}: header but no trials")
    else:
        if not 2 <= len(first) <= len(TRIAL_COLUMNS):
            raise FormatError(
                f"{path} line {line_nos[0]}: {len(first)} columns; expected 2 to {len(TRIAL_COLUMNS)} "
                f"({' '.join(TRIAL_COLUMNS)}) or a header line"
            )
        header = {c: j for j, c in enumerate(TRIAL_COLUMNS[: len(first)])}
    cols = list(zip(*rows, strict=True))
    out = pd.DataFrame({c: np.asarray(cols[header[c]], dtype=str) for c in ("probe_id", "candidate_id")})
    if "label" in header:
        out["label"] = parse_labels(cols[header["label"]], path, line_nos)
    else:
        out["label"] = np.full(len(out), -1, dtype=np.int8)
    for c in ("direction", "constraint", "split"):
        out[c] = np.asarray(cols[header[c]], dtype=str) if c in header else ""
    bad = ~out["direction"].isin(list(DIRECTIONS) + [""])
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise FormatError(f"{path} line {line_nos[i]}: direction {out['direction'].iloc[i]!r} not in {DIRECTIONS}")
    return out[list(TRIAL_COLUMNS)]


def write_galleries(galleries: pd.DataFrame, path: str | Path) -> Path:
    """Write 1:N galleries (:data:`GALLERY_COLUMNS`; ``candidates`` lists are comma-joined)."""
    df = galleries.copy()
    bad = [c for cands in df["candidates"] for c in cands if "," in c]
    if bad:
        raise ValueError(f"cannot write {path}: candidate ids may not contain commas, e.g. {bad[0]!r}")
    df["candidates"] = [",".join(c) for c in df["candidates"]]
    return write_table(df, path, GALLERY_COLUMNS)


def read_galleries(path: str | Path) -> pd.DataFrame:
    """Read ``galleries.tsv``; checks ``len(candidates) == n`` and ``0 <= target_pos < n`` per line."""
    df = read_table(path, GALLERY_COLUMNS)
    for c in ("n", "target_pos"):
        vals = pd.to_numeric(df[c], errors="coerce")
        if vals.isna().any():
            i = int(np.argmax(vals.isna().to_numpy()))
            raise FormatError(f"{path} line {i + 2}: {c} {df[c].iloc[i]!r} is not an integer")
        df[c] = vals.astype(np.int64)
    df["candidates"] = [s.split(",") for s in df["candidates"]]
    sizes = np.array([len(c) for c in df["candidates"]])
    bad = (sizes != df["n"].to_numpy()) | (df["target_pos"].to_numpy() < 0) | (df["target_pos"].to_numpy() >= sizes)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(
            f"{path} line {i + 2}: {sizes[i]} candidates, n={df['n'].iloc[i]}, target_pos={df['target_pos'].iloc[i]}"
        )
    return df


def write_retrieval(retrieval: pd.DataFrame, path: str | Path) -> Path:
    """Write a retrieval list (:data:`RETRIEVAL_COLUMNS`)."""
    return write_table(retrieval, path, RETRIEVAL_COLUMNS)


def read_retrieval(path: str | Path) -> pd.DataFrame:
    """Read ``retrieval.tsv``; roles must be ``probe`` or ``candidate``."""
    df = read_table(path, RETRIEVAL_COLUMNS)
    bad = ~df["role"].isin(["probe", "candidate"])
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise FormatError(f"{path} line {i + 2}: role {df['role'].iloc[i]!r} is not 'probe' or 'candidate'")
    return df


def write_skips(skips: pd.DataFrame, path: str | Path) -> Path:
    """Write skip records (:data:`SKIP_COLUMNS`)."""
    return write_table(skips, path, SKIP_COLUMNS)
