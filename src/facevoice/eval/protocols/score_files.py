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

__all__ = ["read_scores", "write_scores", "read_key", "attach_key", "SCORE_COLUMNS"]

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


def read_key(path: str | Path) -> pd.DataFrame:
    """A key (truth) file: ``trial_id label`` per line (tab, comma or space separated; an optional header
    naming the columns; further columns ignored). Labels as in score files (``1/0``, ``target/nontarget``...).

    Returns:
        DataFrame ``trial_id`` str, ``label`` int8 (1 = same person), in file order. Duplicate ids raise.
    """
    path = Path(path)
    rows, line_nos, _ = _rows(path)
    header = [t.strip().lower() for t in rows[0]]
    if not _label_word(header[1] if len(header) > 1 else "") and not _numeric(header[-1]):
        names = {name: j for j, tok in enumerate(header) for name, al in SCORE_ALIASES.items() if tok in al}
        if "trial_id" not in names or "label" not in names:
            raise FormatError(f"{path} line {line_nos[0]}: a key header must name a trial id and a label column")
        id_col, label_col = names["trial_id"], names["label"]
        rows, line_nos = rows[1:], line_nos[1:]
        if not rows:
            raise FormatError(f"{path}: header but no trials")
    else:
        if len(rows[0]) < 2:
            raise FormatError(f"{path} line {line_nos[0]}: a key line is '<trial_id> <label>', got {rows[0]}")
        id_col, label_col = 0, 1
    cols = list(zip(*rows, strict=True))
    key = pd.DataFrame(
        {"trial_id": np.asarray(cols[id_col], dtype=str), "label": parse_labels(cols[label_col], path, line_nos)}
    )
    dup = key["trial_id"].duplicated()
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise FormatError(f"{path} line {line_nos[i]}: trial id {key['trial_id'].iloc[i]!r} given twice")
    key.attrs["source"] = str(path)
    return key


def attach_key(scores: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """Labels from a key file (:func:`read_key`) for a score table with trial ids (joined on ``trial_id``).

    Every scored trial must be in the key and every key trial scored (each raises naming the count
    and examples); a label the score file also gives must agree. Returns the scores with ``label`` set.
    """
    src = key.attrs.get("source", "the key")
    if (scores["trial_id"] == "").all():
        raise ValueError(
            f"the score file {scores.attrs.get('source', '')} has no trial ids, so {src} cannot be joined with it"
        )
    dup = scores["trial_id"].duplicated()
    if dup.any():
        raise ValueError(f"the score file scores trial {scores.loc[dup, 'trial_id'].iloc[0]!r} twice")
    truth = key.set_index("trial_id")["label"]
    have = scores["trial_id"].isin(truth.index)
    if not have.all():
        ex = scores.loc[~have, "trial_id"].head(3).tolist()
        raise ValueError(f"{int((~have).sum())} scored trial(s) are not in {src}, e.g. {ex}")
    unscored = ~truth.index.isin(scores["trial_id"])
    if unscored.any():
        ex = truth.index[unscored][:3].tolist()
        raise ValueError(f"{int(unscored.sum())} trial(s) of {src} have no score, e.g. {ex}")
    out = scores.copy()
    labels = truth.reindex(out["trial_id"]).to_numpy(np.int8)
    given = out["label"].to_numpy()
    differ = (given >= 0) & (given != labels)
    if differ.any():
        ex = out.loc[differ, "trial_id"].head(3).tolist()
        raise ValueError(
            f"{int(differ.sum())} trial(s) are labelled differently by the score file and {src}, e.g. {ex}"
        )
    out["label"] = labels
    return out
