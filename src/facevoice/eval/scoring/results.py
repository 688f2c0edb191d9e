"""Results tables: wide view, Markdown, JSON, rich, and the one-call evaluation behind the CLI.

Rates (EER, AUC, accuracy, mAP, R@k) are stored as fractions in the long table and JSON, and shown
as percentages in Markdown and on the terminal; minDCF, actual DCF and Cllr / min Cllr (bits) are
shown as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from facevoice.eval.scoring.engine import RESULT_COLUMNS

__all__ = ["wide_table", "display_tables", "to_markdown", "to_json", "write_results", "rich_tables"]

KEY_COLUMNS: tuple[str, ...] = ("protocol", "split", "direction", "constraint")
METRIC_ORDER: tuple[str, ...] = (
    "eer",
    "auc",
    "min_dcf",
    "act_dcf",
    "cllr",
    "min_cllr",
    "reference_eer",
    "reference_auc",
    "accuracy",
    "map",
)
NOT_PERCENT: frozenset[str] = frozenset({"min_dcf", "act_dcf", "cllr", "min_cllr"})


def _metric_rank(name: str) -> tuple[int, int]:
    if name in METRIC_ORDER:
        return METRIC_ORDER.index(name), 0
    if name.startswith("recall@") and name[7:].isdigit():
        return len(METRIC_ORDER), int(name[7:])
    return len(METRIC_ORDER) + 1, 0


def wide_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, split, direction, constraint) with ``n`` and one column per metric."""
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {missing}")
    if results.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "n"])
    keys = list(KEY_COLUMNS)
    wide = results.pivot_table(index=keys + ["n"], columns="metric", values="value", aggfunc="first", sort=False)
    wide = wide[sorted(wide.columns, key=_metric_rank)].reset_index()
    wide.columns.name = None
    return wide


def _fmt(metric: str, value) -> str:
    if pd.isna(value):
        return ""
    return f"{value:.4f}" if metric in NOT_PERCENT else f"{100 * value:.2f}"


def _header(metric: str) -> str:
    return metric if metric in NOT_PERCENT else f"{metric} %"


def display_tables(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One table of formatted strings per protocol (rates in %), compact enough for a terminal.

    verification: split, direction, constraint, n, one column per metric; matching: split,
    direction, galleries (per N), one ``N=<size> %`` accuracy column per size; retrieval: split,
    direction, probes, mAP and R@k.
    """
    wide = wide_table(results)
    out: dict[str, pd.DataFrame] = {}
    for protocol, sub in wide.groupby("protocol", sort=False):
        sub = sub.dropna(axis=1, how="all")
        metric_cols = [c for c in sub.columns if c not in (*KEY_COLUMNS, "n")]
        if protocol == "matching":
            sizes = sorted(sub["constraint"].unique(), key=lambda c: int(c.split("=")[1]) if "=" in c else 0)
            rows = []
            for (split, d), g in sub.groupby(["split", "direction"], sort=False):
                acc = dict(zip(g["constraint"], g["accuracy"], strict=True))
                n = sorted(set(g["n"].astype(int)))
                row = {"split": split, "direction": d, "galleries": "/".join(map(str, n))}
                rows.append(row | {f"{c} %": _fmt("accuracy", acc.get(c)) for c in sizes})
            out[protocol] = pd.DataFrame(rows)
            continue
        keep = ["split", "direction"] + (["constraint"] if protocol == "verification" else [])
        table = sub[keep].copy()
        table["trials" if protocol == "verification" else "probes" if protocol == "retrieval" else "n"] = (
            sub["n"].astype(int).astype(str)
        )
        for m in metric_cols:
            table[_header(m)] = [_fmt(m, v) for v in sub[m]]
        out[protocol] = table.reset_index(drop=True)
    return out


def to_markdown(results: pd.DataFrame, title: str | None = None) -> str:
    """Markdown: one section and table per protocol (see :func:`display_tables`)."""
    lines = [f"## {title}", ""] if title else []
    for protocol, table in display_tables(results).items():
        lines += [f"### {protocol}", ""]
        lines += ["| " + " | ".join(table.columns) + " |", "|" + "|".join("---" for _ in table.columns) + "|"]
        lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
        lines.append("")
    return "\n".join(lines)


def to_json(results: pd.DataFrame, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"meta": ..., "results": [long-table records]}`` (JSON-serialisable)."""
    records = [
        {c: (int(r[c]) if c == "n" else float(r[c]) if c == "value" else str(r[c])) for c in RESULT_COLUMNS}
        for r in results.to_dict(orient="records")
    ]
    return {"meta": dict(meta or {}), "results": records}


def write_results(results: pd.DataFrame, out: str | Path, meta: dict[str, Any] | None = None) -> list[Path]:
    """Write JSON and Markdown: ``out`` ending in ``.json`` -> that file and its ``.md`` twin; else
    ``out`` is a folder receiving ``results.json`` and ``results.md``."""
    out = Path(out)
    json_path = out if out.suffix == ".json" else out / "results.json"
    md_path = json_path.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(to_json(results, meta), indent=2, default=str))
    md_path.write_text(to_markdown(results, title="facevoice evaluation"))
    return [json_path, md_path]


def rich_tables(results: pd.DataFrame) -> list:
    """``rich.table.Table`` objects, one per protocol (see :func:`display_tables`)."""
    from rich.table import Table

    tables = []
    for protocol, df in display_tables(results).items():
        table = Table(title=protocol)
        for c in df.columns:
            table.add_column(str(c), justify="left" if c in ("split", "direction", "constraint") else "right")
        for row in df.itertuples(index=False):
            table.add_row(*map(str, row))
        tables.append(table)
    return tables
