"""Score files: one scored trial per line, read robustly into a table.

Accepted layouts (separator: tab, comma or whitespace, taken from the first data line; blank lines
and ``#`` comments skipped):

* with a header line (no numeric field in it, at least one known name): columns are found by
  name: ``score`` (or ``scores``, ``similarity``, ``sim``, ``llr``), ``label`` (``labels``,
  ``target``, ``is_same``, ``same``, ``key``), ``probe_id`` (``probe``, ``enroll``, ``query``),
  ``candidate_id`` (``candidate``, ``test``, ``gallery``), ``trial_id`` (``trial``, ``id``), and
  optional ``direction``, ``constraint``, ``split``; other columns are ignored.
* without a header, by the number of columns:

  ====  ==========================================  ===========================================
  2     ``score label``                             or ``trial_id score`` (first field not numeric)
  3     ``probe candidate score``
  4     ``probe candidate score label``             or ``probe candidate label score`` (third field
                                                    a label word such as ``target``)
  ====  ==========================================  ===========================================

Labels: ``1 / 0 / -1``, ``true / false``, ``target / nontarget``, ``same / different`` and the
like; a missing label column reads as -1 (unknown: join with a trial list). Scores must be finite.
Higher score = same person; pass ``higher_is_better=False`` for distances (e.g. FAME submissions,
which hold L2 distances), and the scores are negated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.data.formats.fop import FormatError
from facevoice.eval.protocols.io import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    TRIAL_ALIASES,
    parse_floats,
    parse_labels,
    write_table,
)
from facevoice.eval.protocols.io import read_text_rows as _rows

__all__ = ["read_scores", "write_scores", "SCORE_COLUMNS"]

SCORE_COLUMNS: tuple[str, ...] = ("probe_id", "candidate_id", "trial_id", "score", "label", "direction", "constraint")
SCORE_COLUMNS += ("split",)
SCORE_ALIASES = dict(TRIAL_ALIASES)
SCORE_ALIASES["label"] = (*TRIAL_ALIASES["label"], "target", "is_target")
SCORE_ALIASES["score"] = ("score", "scores", "similarity", "sim", "llr", "cosine")
SCORE_ALIASES["trial_id"] = ("trial_id", "trial", "id", "trial_key")


def _numeric(tok: str) -> bool:
    try:
        return bool(np.isfinite(float(tok)))
    except ValueError:
        return False


def _label_word(tok: str) -> bool:
    return tok.lower() in POSITIVE_WORDS or tok.lower() in NEGATIVE_WORDS


def _layout(first: list[str], path: Path, line_no: int) -> dict[str, int]:
    n = len(first)
    if n == 2:
        if _numeric(first[0]) and _label_word(first[1]):
            return {"score": 0, "label": 1}
        if not _numeric(first[0]) and _numeric(first[1]):
            return {"trial_id": 0, "score": 1}
        raise FormatError(
            f"{path} line {line_no}: cannot tell the layout of {first}: two columns must be 'score label' "
            "or 'trial_id score'"
        )
    if n == 3:
        if _numeric(first[2]):
            return {"probe_id": 0, "candidate_id": 1, "score": 2}
        raise FormatError(f"{path} line {line_no}: three columns must be 'probe candidate score', got {first}")
    if n == 4:
        if not _numeric(first[2]) and _label_word(first[2]) and _numeric(first[3]):
            return {"probe_id": 0, "candidate_id": 1, "label": 2, "score": 3}
        return {"probe_id": 0, "candidate_id": 1, "score": 2, "label": 3}
    raise FormatError(
        f"{path} line {line_no}: {n} columns without a header; use 2-4 columns (score label | trial_id score | "
        "probe candidate score [label]) or add a header line naming them"
    )


def _header(first: list[str]) -> dict[str, int] | None:
    if any(_numeric(t) for t in first):
        return None
    found: dict[str, int] = {}
    for j, tok in enumerate(first):
        key = tok.strip().lower()
        for name, names in SCORE_ALIASES.items():
            if key in names and name not in found:
                found[name] = j
                break
    return found or None


def read_scores(path: str | Path, *, higher_is_better: bool = True) -> pd.DataFrame:
    """Read a score file (layouts in the module docstring).

    Returns:
        DataFrame ``(T, 8)`` with :data:`SCORE_COLUMNS`: ``score`` float64 (negated when
        ``higher_is_better`` is False), ``label`` int8 (-1 = not in the file), id columns str ("" when absent).
    """
    path = Path(path)
    rows, line_nos, _ = _rows(path)
    cols_map = _header(rows[0])
    if cols_map is not None:
        if "score" not in cols_map:
            raise FormatError(f"{path} line {line_nos[0]}: header {rows[0]} has no score column")
        rows, line_nos = rows[1:], line_nos[1:]
        if not rows:
            raise FormatError(f"{path}: header but no scores")
    else:
        cols_map = _layout(rows[0], path, int(line_nos[0]))
    cols = list(zip(*rows, strict=True))
    n = len(rows)
    out = {}
    for c in ("probe_id", "candidate_id", "trial_id", "direction", "constraint", "split"):
        out[c] = np.asarray(cols[cols_map[c]], dtype=str) if c in cols_map else np.full(n, "", dtype=object)
    score = parse_floats(cols[cols_map["score"]], path, line_nos)
    out["score"] = score if higher_is_better else -score
    if "label" in cols_map:
        out["label"] = parse_labels(cols[cols_map["label"]], path, line_nos)
    else:
        out["label"] = np.full(n, -1, dtype=np.int8)
    df = pd.DataFrame(out)[list(SCORE_COLUMNS)]
    df.attrs["source"] = str(path)
    df.attrs["higher_is_better"] = bool(higher_is_better)
    return df


def write_scores(scores: pd.DataFrame, path: str | Path) -> Path:
    """Write ``probe_id candidate_id score [label direction constraint split]`` as a TSV with a header."""
    keep = [c for c in SCORE_COLUMNS if c in scores.columns and not (scores[c].astype(str) == "").all()]
    if "score" not in keep:
        raise ValueError("scores table has no score column")
    df = scores[keep]
    if "label" in df.columns and (df["label"] < 0).all():
        df = df.drop(columns="label")
    return write_table(df, path)
