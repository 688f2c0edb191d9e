"""Per-pair tables as studies publish them: result JSON files and LaTeX ``tabular`` tables.

JSON (``read_pairs_json``), any of:

* ``{"pairs": [{...}, ...], ...}``: a correlation-analysis output with one record per pair
  (e.g. ``results/tables/correlation_analysis.json`` of the Riemannian-geometry study);
* ``[{...}, ...]``: a list of per-pair records;
* ``{"<pair>": {...}, ...}``: per-pair results keyed by the pair name (e.g. that study's
  ``cross_modal_<dataset>.json`` and ``eer_<dataset>.json``). The key becomes the ``pair`` column and
  the file name gives a ``dataset`` column: the stem without a leading ``cross_modal_`` / ``eer_`` /
  ``pairs_`` / ``geometry_`` / ``correlation_``. Files of the same dataset are joined on the pair
  name (so metrics and EERs in separate files meet in one row); different datasets are stacked.

An entry carrying an ``error`` field keeps its row with that text and no values, so the analysis
reports it among the dropped rows. JSON ``NaN`` literals are accepted.

LaTeX (``read_latex_table``): the first ``tabular`` of the file; the header is the last row before
``\\midrule`` (or the first row), data rows run to ``\\bottomrule`` / ``\\end{tabular}``; ``\\%``,
``$...$``, ``\\textbf{...}`` and dashes for "no value" are undone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

_JSON_PREFIXES = ("cross_modal_", "crossmodal_", "eer_", "pairs_", "geometry_", "correlation_")
_MISSING_MARKS = {"", "—", "–", "-", "--", "n/a", "na", "nan"}


def _dataset_tag(path: Path) -> str:
    stem = path.stem
    for prefix in _JSON_PREFIXES:
        if stem.lower().startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return stem


def _records(obj, path: Path) -> tuple[list[dict], bool]:
    """``(records, keyed)``: per-pair records of one JSON document; ``keyed`` when it was a pair-keyed dict."""
    if isinstance(obj, dict) and isinstance(obj.get("pairs"), list):
        obj = obj["pairs"]
    if isinstance(obj, list):
        if not obj or not all(isinstance(r, dict) for r in obj):
            raise ValueError(f"{path}: expected a non-empty list of per-pair records (objects)")
        return [dict(r) for r in obj], False
    if isinstance(obj, dict) and obj and all(isinstance(v, dict) for v in obj.values()):
        return [{"pair": str(k), **v} for k, v in obj.items()], True
    raise ValueError(
        f"{path}: not a per-pair result file; expected {{'pairs': [...]}}, a list of records, "
        "or an object mapping pair names to objects of values"
    )


def _flat(rec: dict) -> dict:
    """Scalars of a record; an ``error`` entry blanks the numbers so the row is reported as dropped."""
    out = {k: v for k, v in rec.items() if not isinstance(v, (dict, list))}
    if "error" in rec:
        out = {k: (v if isinstance(v, str) else np.nan) for k, v in out.items()}
        out["error"] = str(rec["error"])
    return out


def read_pairs_json(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """One row per encoder pair from one or more result JSON files (formats in the module docstring)."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise ValueError("no JSON files given")
    by_dataset: dict[str, dict[str, dict]] = {}
    listed: list[dict] = []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"per-pair JSON not found: {path}")
        try:
            obj = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON ({exc})") from exc
        records, keyed = _records(obj, path)
        if not keyed:
            listed.extend(_flat(r) for r in records)
            continue
        rows = by_dataset.setdefault(_dataset_tag(path), {})
        for rec in records:
            rec = {**_flat(rec), "dataset": _dataset_tag(path)}
            row = rows.setdefault(rec["pair"], {})
            for key, val in rec.items():
                old = row.get(key)
                if old is not None and not _same(old, val):
                    raise ValueError(f"{path}: pair {rec['pair']!r} has {key!r} = {val!r} here, {old!r} elsewhere")
                row[key] = val
    rows = listed + [row for rows in by_dataset.values() for row in rows.values()]
    return pd.DataFrame(rows)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _clean_cell(cell: str) -> str:
    c = cell.strip()
    c = re.sub(r"\\(?:textbf|textit|emph|mathrm|text|underline)\{([^{}]*)\}", r"\1", c)
    c = c.replace("\\%", "%").replace("$", "").replace("\\,", "").replace("~", " ")
    c = re.sub(r"\\(?:rho|sigma|mu)\b", lambda m: m.group(0)[1:], c)
    c = c.replace("{", "").replace("}", "").replace("\\_", "_").strip()
    return "" if c.lower() in _MISSING_MARKS else c


def _rows(body: str) -> list[list[str]]:
    out = []
    for raw in re.split(r"\\\\", body):
        line = re.sub(r"(?<!\\)%.*", "", raw)  # LaTeX comments
        line = re.sub(r"\\(?:hline|toprule|bottomrule|cline\{[^}]*\}|cmidrule(?:\([^)]*\))?\{[^}]*\})", "", line)
        if line.strip():
            out.append([_clean_cell(c) for c in line.split("&")])
    return out


def read_latex_table(path: str | Path) -> pd.DataFrame:
    """The first LaTeX ``tabular`` of ``path`` as a DataFrame of strings (header from its first/``\\midrule`` row)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"per-pair LaTeX table not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    m = re.search(r"\\begin\{tabular\*?\}(?:\{[^}]*\})?\{(?:[^{}]|\{[^{}]*\})*\}(.*?)\\end\{tabular\*?\}", text, re.S)
    if not m:
        raise ValueError(f"{path}: no tabular environment found")
    body = m.group(1)
    head, sep, data = body.partition("\\midrule")
    if sep:
        header_rows, data_rows = _rows(head), _rows(data)
        if not header_rows:
            raise ValueError(f"{path}: no header row before \\midrule")
        header = header_rows[-1]
    else:
        rows = _rows(body)
        if len(rows) < 2:
            raise ValueError(f"{path}: the tabular has no data rows")
        header, data_rows = rows[0], rows[1:]
    bad = [i for i, r in enumerate(data_rows) if len(r) != len(header)]
    if bad:
        raise ValueError(f"{path}: data row {bad[0] + 1} has {len(data_rows[bad[0]])} cells, header has {len(header)}")
    if not data_rows:
        raise ValueError(f"{path}: the tabular has no data rows")
    return pd.DataFrame(data_rows, columns=[h or f"col{i}" for i, h in enumerate(header)])
