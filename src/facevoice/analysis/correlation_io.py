"""Per-pair tables for the correlation study: robust CSV reading and the whole study in one call.

CSV format (documented in docs/geometry.md): a header row, one row per encoder pair; any of comma,
tab or semicolon as the delimiter (sniffed), UTF-8 with or without BOM. Numeric columns may carry
a trailing ``%``, a Unicode minus, or decimal commas (when every value of the column is written
``12,5``-style; a semicolon- or tab-separated file is then needed); empty / ``NA`` cells drop
that row from the analysis (the dropped rows are returned, never lost silently); any other
non-numeric cell is an error naming the file, column and row. Column names are matched exactly
first, then ignoring case, spaces and punctuation (``"CKA (linear)"`` matches ``cka_linear``,
``"EER (%)"`` matches ``eer``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.analysis.correlation import correlate, ols

DEFAULT_TARGETS = ("eer", "eer_cca", "cross_modal_eer", "eer_percent")
STUDY_METRICS = ("cka_linear", "cka_rbf", "gw", "spectral_gap", "id_mismatch")


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def resolve_column(columns: Sequence[str], name: str, source: str = "table") -> str:
    """The column of ``columns`` that ``name`` refers to (exact, then normalised match)."""
    cols = [str(c) for c in columns]
    if name in cols:
        return name
    hits = [c for c in cols if _norm(c) == _norm(name)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise KeyError(f"{source}: column {name!r} is ambiguous, matches {hits}")
    raise KeyError(f"{source}: no column {name!r}; available: {cols}")


def _to_numeric(col: pd.Series, name: str, source: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(np.float64)
    s = col.astype("string").str.strip().str.replace("\u2212", "-", regex=False).str.rstrip("%").str.strip()
    s = s.mask(s.isna() | s.str.fullmatch(r"(?i)|na|nan|n/a|none|null|-").fillna(True))
    vals = s.dropna()
    if len(vals) and vals.str.fullmatch(r"-?\d+(,\d+)?").all() and vals.str.contains(",").any():
        s = s.str.replace(",", ".", regex=False)  # a column written with decimal commas throughout
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{source}: column {name!r} row {row + 2} (line in file) is not a number: {col.iloc[row]!r}")
    return out.astype(np.float64)


def load_pair_table(
    source: str | Path | pd.DataFrame,
    metrics: Sequence[str] | None = None,
    target: str | None = None,
) -> tuple[pd.DataFrame, list[str], str, pd.DataFrame]:
    """Read a per-pair table and pick out the metric and EER columns.

    Args:
        source: a CSV path or a DataFrame.
        metrics: metric column names (matched as described above); default: the study's metrics
            (``cka_linear, cka_rbf, gw, spectral_gap, id_mismatch``) when all are present (a
            ``pairs.csv`` of ``facevoice analyze geometry``), else every non-constant numeric column
            other than the target and counts named ``n_*``.
        target: the EER column; default: the first of ``eer, eer_cca, cross_modal_eer, eer_percent``.

    Returns:
        ``(table, metrics, target, dropped)``: ``table`` holds the rows with every needed value, the
        metric and target columns renamed to the names asked for and converted to float;
        ``dropped`` the rows left out for missing values.
    """
    if isinstance(source, pd.DataFrame):
        df, where = source.copy(), "table"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"per-pair table not found: {path}")
        where = str(path)
        try:
            df = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig", dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas raises several types for malformed text
            raise ValueError(f"{path}: cannot parse as CSV ({type(exc).__name__}: {exc})") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if target is None:
        found = [t for t in DEFAULT_TARGETS if any(_norm(c) == t for c in df.columns)]
        if not found:
            raise KeyError(f"{where}: no EER column found (tried {list(DEFAULT_TARGETS)}); pass the target name")
        target = found[0]
    tcol = resolve_column(df.columns, target, where)
    if metrics is None:
        normed = {_norm(c) for c in df.columns}
        if all(m in normed for m in STUDY_METRICS):
            metrics = list(STUDY_METRICS)
        else:
            metrics = [c for c in df.columns if c != tcol and not _norm(c).startswith("n_") and _varies(df[c])]
        if not metrics:
            raise ValueError(f"{where}: no numeric metric columns besides {tcol!r}")
    mcols = [resolve_column(df.columns, m, where) for m in metrics]
    out = df.copy()
    for col, name in zip([*mcols, tcol], [*metrics, target], strict=True):
        out[name] = _to_numeric(df[col], col, where)
    needed = [*metrics, target]
    missing = out[needed].isna().any(axis=1)
    return out[~missing].reset_index(drop=True), list(metrics), target, out[missing]


def _varies(col: pd.Series) -> bool:
    """A numeric column with at least two distinct values."""
    try:
        out = _to_numeric(col, "", "")
    except ValueError:
        return False
    return out.dropna().nunique() > 1


def parse_models(models: Sequence[str] | None, metrics: Sequence[str]) -> list[list[str]]:
    """OLS model specs ``"a+b"`` into lists of metric names; default: every metric alone and all together.

    Terms are matched to ``metrics`` like column names (exact, then ignoring case and punctuation).
    """
    if not models:
        specs = [[m] for m in metrics]
        return specs + [list(metrics)] if len(metrics) > 1 else specs
    out = []
    for spec in models:
        terms = [t.strip() for t in spec.split("+") if t.strip()]
        if not terms:
            raise ValueError(f"empty OLS model spec {spec!r}")
        out.append([resolve_column(metrics, t, f"model {spec!r} (terms must be metric columns)") for t in terms])
    return out


def correlation_study(
    source: str | Path | pd.DataFrame,
    metrics: Sequence[str] | None = None,
    target: str | None = None,
    models: Sequence[str] | None = None,
    n_boot: int = 10_000,
    ci: float = 0.95,
    seed: int = 0,
    out_dir: str | Path | None = None,
    label_column: str | None = None,
) -> dict:
    """Correlations and OLS models of a per-pair table; optionally writes tables and figures.

    Args:
        source: CSV path or DataFrame (see the module docstring for the format).
        models: OLS specs such as ``"cka_linear+id_mismatch"``; default: each metric alone and all
            together (the latter only when the table has more than ``len(metrics) + 1`` rows).
        out_dir: when given, writes ``correlations.csv``, ``ols.csv``, ``dropped_rows.csv`` (if any) and
            ``scatter_<metric>.png`` per metric.
        label_column: column naming each pair, used to annotate the scatter plots.

    Returns:
        ``{"table", "metrics", "target", "dropped", "correlations" (DataFrame), "ols" (list of OLSResult)}``.
    """
    table, metrics, target, dropped = load_pair_table(source, metrics, target)
    corr = correlate(table, metrics, target, n_boot=n_boot, ci=ci, seed=seed)
    specs = parse_models(models, metrics)
    if not models:  # the default all-metrics model only where the table has enough rows for it
        specs = [spec for spec in specs if len(table) > len(spec) + 1]
    fits = [ols(table, spec, target) for spec in specs]
    result = {"table": table, "metrics": metrics, "target": target, "dropped": dropped, "correlations": corr,
              "ols": fits}  # fmt: skip
    if out_dir is not None:
        from facevoice.analysis.plots import metric_scatter

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        corr.to_csv(out / "correlations.csv", index=False)
        pd.DataFrame([f.as_row() for f in fits]).to_csv(out / "ols.csv", index=False)
        if len(dropped):
            dropped.to_csv(out / "dropped_rows.csv", index=False)
        labels = None
        if label_column is not None:
            labels = table[resolve_column(table.columns, label_column, "table")].astype(str).tolist()
        for m in metrics:
            metric_scatter(table[m], table[target], out / f"scatter_{_norm(m)}.png", xlabel=m, ylabel=target,
                           labels=labels)  # fmt: skip
    return result
