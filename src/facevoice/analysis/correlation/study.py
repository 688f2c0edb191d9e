"""Per-pair tables for the correlation study: robust reading and the whole study in one call.

CSV format (documented in docs/geometry.md): a header row, one row per encoder pair; any of comma,
tab or semicolon as the delimiter (sniffed), UTF-8 with or without BOM. Numeric columns may carry
a trailing ``%``, a Unicode minus, or decimal commas (when every value of the column is written
``12,5``-style; a semicolon- or tab-separated file is then needed); empty / ``NA`` cells drop
that row from the analysis (the dropped rows are returned, never lost silently); any other
non-numeric cell is an error naming the file, column and row. Published result files are read too:
``.json`` (one or several, see :mod:`facevoice.analysis.correlation.formats`) and a LaTeX ``.tex``
tabular.

Column names are matched exactly first, then ignoring case, spaces and punctuation (``"CKA (linear)"``
matches ``cka_linear``, ``"EER (%)"`` matches ``eer``), then through the study's synonyms
(``cka`` = ``cka_linear``, ``gw_distance`` / ``GW Dist.`` = ``gw``, ...; :data:`METRIC_ALIASES`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.analysis.correlation.figures import metric_scatter
from facevoice.analysis.correlation.formats import read_latex_table, read_pairs_json
from facevoice.analysis.correlation.stats import _check_convention, correlate, ols

DEFAULT_TARGETS = ("eer", "eer_cca", "cross_modal_eer", "cca_eer", "eer_percent", "eer_pct")
STUDY_METRICS = ("cka_linear", "cka_rbf", "gw", "spectral_gap", "id_mismatch")
# Names the same metric goes by in published tables (normalised spelling, see _norm).
METRIC_ALIASES = {
    "cka_linear": ("cka", "linear_cka", "cka_lin"),
    "cka_rbf": ("rbf_cka", "cka_kernel", "kernel_cka"),
    "gw": ("gw_distance", "gw_dist", "gromov_wasserstein", "gromov_wasserstein_distance", "gw_discrepancy"),
    "spectral_gap": ("spectral_gap_divergence", "spectral_divergence", "spectral_gap_distance"),
    "id_mismatch": ("intrinsic_dim_mismatch", "intrinsic_dimension_mismatch", "id_gap"),
}
_ALIAS_OF = {a: k for k, v in METRIC_ALIASES.items() for a in (k, *v)}
# Never default metrics: counts, bookkeeping and other error rates of a result file.
_NOT_METRICS = re.compile(r"^(n_.*|.*_ids?|threshold|seed|.*eer.*|error)$")


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def resolve_column(columns: Sequence[str], name: str, source: str = "table") -> str:
    """The column of ``columns`` that ``name`` refers to (exact, normalised, then synonym match)."""
    cols = [str(c) for c in columns]
    if name in cols:
        return name
    for key in (_norm, lambda c: _ALIAS_OF.get(_norm(c), "\0" + _norm(c))):
        hits = [c for c in cols if key(c) == key(name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise KeyError(f"{source}: column {name!r} is ambiguous, matches {hits}")
    raise KeyError(f"{source}: no column {name!r}; available: {cols}")


def read_pair_source(source: str | Path | Sequence[str | Path]) -> tuple[pd.DataFrame, str]:
    """Raw per-pair table (all columns as read) and a name for messages, from CSV, JSON(s) or LaTeX."""

    paths = [Path(source)] if isinstance(source, (str, Path)) else [Path(p) for p in source]
    if not paths:
        raise ValueError("no per-pair table given")
    where = ", ".join(str(p) for p in paths)
    suffixes = {p.suffix.lower() for p in paths}
    if suffixes == {".json"}:
        return read_pairs_json(paths), where
    if len(paths) > 1:
        raise ValueError(f"several tables are only supported as JSON result files, got {where}")
    path = paths[0]
    if not path.is_file():
        raise FileNotFoundError(f"per-pair table not found: {path}")
    if path.suffix.lower() == ".tex":
        return read_latex_table(path), where
    try:
        df = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several types for malformed text
        raise ValueError(f"{path}: cannot parse as CSV ({type(exc).__name__}: {exc})") from exc
    return df, where


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


def _default_metrics(df: pd.DataFrame, tcol: str, where: str) -> list[str]:
    """The study's metrics present (by any synonym) when there are at least two; else every varying numeric column."""
    known = [c for c in df.columns if c != tcol and _ALIAS_OF.get(_norm(c)) in STUDY_METRICS]
    if len({_ALIAS_OF[_norm(c)] for c in known}) >= 2:
        return known
    metrics = [c for c in df.columns if c != tcol and not _NOT_METRICS.match(_norm(c)) and _varies(df[c])]
    if not metrics:
        raise ValueError(f"{where}: no numeric metric columns besides {tcol!r}")
    return metrics


def load_pair_table(
    source: str | Path | Sequence[str | Path] | pd.DataFrame,
    metrics: Sequence[str] | None = None,
    target: str | None = None,
    where: Mapping[str, str] | None = None,
    pairwise: bool = False,
) -> tuple[pd.DataFrame, list[str], str, pd.DataFrame]:
    """Read a per-pair table and pick out the metric and EER columns.

    Args:
        source: a CSV / ``.tex`` path, one or more ``.json`` result files, or a DataFrame.
        metrics: metric column names (matched as described above); default: the study's metrics
            (``cka_linear, cka_rbf, gw, spectral_gap, id_mismatch``, under any synonym) that are present
            when at least two are, else every non-constant numeric column other than the target, counts
            (``n_*``), identity counts, thresholds and other EER columns.
        target: the EER column; default: the first of :data:`DEFAULT_TARGETS` present.
        where: keep only rows whose column (matched like metrics) equals the value, e.g.
            ``{"dataset": "voxceleb1"}``.
        pairwise: drop only rows without a target value (each metric then uses the rows it has, as
            the reference script does); by default a row missing any needed value is dropped. Rows
            with a non-empty ``error`` column are dropped either way.

    Returns:
        ``(table, metrics, target, dropped)``: ``table`` holds the rows kept, the metric and target
        columns renamed to the names asked for and converted to float; ``dropped`` the rows left out
        for missing values.
    """
    if isinstance(source, pd.DataFrame):
        df, src = source.copy(), "table"
    else:
        df, src = read_pair_source(source)
    df.columns = [str(c).strip() for c in df.columns]
    for col, value in (where or {}).items():
        c = resolve_column(df.columns, col, src)
        keep = df[c].astype(str).str.strip() == str(value).strip()
        if not keep.any():
            raise ValueError(f"{src}: no row has {c} = {value!r}; values: {sorted(df[c].astype(str).unique())}")
        df = df[keep].reset_index(drop=True)
    if target is None:
        found = [t for t in DEFAULT_TARGETS if any(_norm(c) == t for c in df.columns)]
        if not found:
            raise KeyError(f"{src}: no EER column found (tried {list(DEFAULT_TARGETS)}); pass the target name")
        target = found[0]
    tcol = resolve_column(df.columns, target, src)
    if metrics is None:
        metrics = _default_metrics(df, tcol, src)
    mcols = [resolve_column(df.columns, m, src) for m in metrics]
    out = df.copy()
    for col, name in zip([*mcols, tcol], [*metrics, target], strict=True):
        out[name] = _to_numeric(df[col], col, src)
    needed = [target] if pairwise else [*metrics, target]
    missing = out[needed].isna().any(axis=1)
    if "error" in out.columns:  # a result entry that failed (JSON ``error`` field) is left out as a whole
        err = out["error"].astype("string").str.strip()
        missing |= (err.notna() & (err != "") & (err.str.lower() != "nan")).to_numpy()
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
    source: str | Path | Sequence[str | Path] | pd.DataFrame,
    metrics: Sequence[str] | None = None,
    target: str | None = None,
    models: Sequence[str] | None = None,
    n_boot: int | None = None,
    ci: float = 0.95,
    seed: int | None = None,
    out_dir: str | Path | None = None,
    label_column: str | None = None,
    convention: str = "standard",
    where: Mapping[str, str] | None = None,
) -> dict:
    """Correlations and OLS models of a per-pair table; optionally writes tables and figures.

    Args:
        source: CSV / ``.tex`` path, ``.json`` result file(s) or DataFrame (see the module docstring).
        models: OLS specs such as ``"cka_linear+id_mismatch"``; default: each metric alone and all
            together (the latter only when the table has more than ``len(metrics) + 1`` rows).
        n_boot, seed: bootstrap resamples and seed; default 10,000 and 0 (``"standard"``) or 1,000 and
            42 (``"reference"``, the published study's values).
        convention: ``"standard"`` (METHODS.md) or ``"reference"``: the published script's bootstrap
            stream, OLS scaling (:func:`facevoice.analysis.correlation.stats.ols`) and missing values handled
            per metric (a metric with gaps is left out of the default all-metrics model).
        where: row filter, e.g. ``{"dataset": "voxceleb1"}``.
        out_dir: when given, writes ``correlations.csv``, ``ols.csv``, ``dropped_rows.csv`` (if any) and
            ``scatter_<metric>.png`` per metric.
        label_column: column naming each pair, used to annotate the scatter plots (default ``pair``
            when present).

    Returns:
        ``{"table", "metrics", "target", "dropped", "correlations" (DataFrame), "ols" (list of OLSResult)}``.
    """
    _check_convention(convention)
    ref = convention == "reference"
    n_boot = (1000 if ref else 10_000) if n_boot is None else n_boot
    seed = (42 if ref else 0) if seed is None else seed
    table, metrics, target, dropped = load_pair_table(source, metrics, target, where=where, pairwise=ref)
    corr = correlate(table, metrics, target, n_boot=n_boot, ci=ci, seed=seed, convention=convention, pairwise=ref)
    specs = parse_models(models, metrics)
    if not models:  # the default all-metrics model: complete metrics only, and only where there are enough rows
        complete = [m for m in metrics if table[m].notna().all()]
        if len(specs) > 1 and len(metrics) > 1:
            specs[-1] = complete
        specs = [spec for spec in specs if spec and len(table.dropna(subset=spec)) > len(spec) + 1]
        specs = [spec for i, spec in enumerate(specs) if spec not in specs[:i]]
    fits = [ols(table.dropna(subset=spec).reset_index(drop=True), spec, target, convention) for spec in specs]
    result = {"table": table, "metrics": metrics, "target": target, "dropped": dropped, "correlations": corr,
              "ols": fits}  # fmt: skip
    if out_dir is not None:
        _write_outputs(result, Path(out_dir), label_column)
    return result


def _write_outputs(result: dict, out: Path, label_column: str | None) -> None:

    table, target = result["table"], result["target"]
    out.mkdir(parents=True, exist_ok=True)
    result["correlations"].to_csv(out / "correlations.csv", index=False)
    pd.DataFrame([f.as_row() for f in result["ols"]]).to_csv(out / "ols.csv", index=False)
    if len(result["dropped"]):
        result["dropped"].to_csv(out / "dropped_rows.csv", index=False)
    if label_column is None and "pair" in table.columns:
        label_column = "pair"
    labels = None
    if label_column is not None:
        labels = table[resolve_column(table.columns, label_column, "table")].astype(str).tolist()
    for m in result["metrics"]:
        ok = table[m].notna().to_numpy()
        lab = None if labels is None else [t for t, k in zip(labels, ok, strict=True) if k]
        metric_scatter(table[m][ok], table[target][ok], out / f"scatter_{_norm(m)}.png", xlabel=m, ylabel=target,
                       labels=lab)  # fmt: skip
