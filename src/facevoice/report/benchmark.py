"""Benchmark tables and the Markdown report, built only from the benchmark's result files.

``aggregate`` turns the long per-seed table into mean ± std over seeds; ``headline_table`` picks
the figures of the issue (unseen-unheard and seen-heard EER/AUC, G/N/A/GNA AUC, 1:2 and 1:10
accuracy, V→F) per method; ``cca_check`` tells whether every trained method beats the CCA
baseline; ``write_benchmark_outputs`` writes CSV/JSON, figures and ``report.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.report.headline import (
    CALIBRATION_COLUMNS,
    HEADLINE_COLUMNS,
    REFERENCE_ROWS,
    UU,
    aggregate,
    headline_table,
)
from facevoice.report.paired import paired_markdown
from facevoice.report.training_curves import benchmark_figures


def cca_check(head: pd.DataFrame, paired: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Per trained method: does it beat CCA on unseen-unheard EER and AUC, and where it does not (seed means)?

    With ``paired`` (:func:`facevoice.report.paired.paired_vs_cca`), ``paired_verdicts``
    maps each AUC column to ``better`` / ``tie`` / ``worse`` by the paired bootstrap.
    """
    if "cca" not in set(head["method"]):
        return {}
    cca = head[head["method"] == "cca"].iloc[0]
    out = {}
    for _, r in head[~head["method"].isin(REFERENCE_ROWS)].iterrows():
        if not (np.isfinite(r["UU EER"]) and np.isfinite(cca["UU EER"])):
            continue
        out[r["method"]] = {
            "uu_eer": float(r["UU EER"]),
            "cca_uu_eer": float(cca["UU EER"]),
            "beats_cca_eer": bool(r["UU EER"] < cca["UU EER"]),
            "beats_cca_auc": bool(r["UU AUC"] > cca["UU AUC"]),
            "beats_cca_seen_eer": bool(r["SH EER"] < cca["SH EER"]) if np.isfinite(r["SH EER"]) else None,
            "trails_cca": _trailing_columns(r, cca),
        }
        if paired is not None and len(paired):
            mine = paired[paired["method"] == r["method"]]
            out[r["method"]]["paired_verdicts"] = dict(zip(mine["column"], mine["verdict"], strict=True))
    return out


def _trailing_columns(row: pd.Series, cca: pd.Series) -> dict[str, tuple[float, float]]:
    """Headline columns where ``row`` is not better than CCA: name -> (method mean, CCA value)."""
    out = {}
    for col in HEADLINE_COLUMNS:
        a, b = float(row[col]), float(cca[col])
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        if (a >= b) if "EER" in col else (a <= b):
            out[col] = (a, b)
    return out


def _paired_clause(verdicts: Mapping[str, str]) -> str:
    """`` (paired test: worse on X; indistinguishable on Y)``, or nothing when every column is better."""
    parts = []
    for word, label in (("worse", "worse on"), ("tie", "indistinguishable on")):
        cols = [k for k, v in verdicts.items() if v == word]
        if cols:
            parts.append(f"{label} {', '.join(cols)}")
    return f" (paired test: {'; '.join(parts)})" if parts else ""


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "—"
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if np.isfinite(std) else "")


def headline_markdown(head: pd.DataFrame, replicates: str = "seeds") -> str:
    """Markdown of :func:`headline_table` (rates in %, mean ± std over seeds, or over ``replicates``)."""
    cols = list(HEADLINE_COLUMNS)
    lines = [
        "| method | " + " | ".join(cols) + f" | s/epoch | params | {replicates} |",
        "|---" * (len(cols) + 4) + "|",
    ]
    for _, r in head.iterrows():
        cells = [_pm(r[c], r[f"{c} std"]) for c in cols]
        t = r["s/epoch"]
        training_free = r["epochs"] == 0 or r["method"] == "cca"
        timing = "—" if not np.isfinite(t) else f"{t:.2f}" + (" (fit)" if training_free else "")
        params = "—" if r["params"] is None or pd.isna(r["params"]) else f"{int(r['params']):,}"
        lines.append(f"| {r['method']} | " + " | ".join(cells) + f" | {timing} | {params} | {r['seeds']} |")
    return "\n".join(lines) + "\n"


def calibration_markdown(head: pd.DataFrame, score_kinds: Mapping[str, str]) -> str:
    """Cllr / min Cllr (bits) and actual / minimum DCF (p_target 0.01) of the unseen-unheard V→F list.

    Cllr and the actual DCF read scores as log-likelihood ratios: they are shown for back-ends that
    output LLRs (``score_kinds``) and as "n/a" for cosine scores, whose min Cllr and min DCF still
    measure discrimination.
    """
    cols = list(CALIBRATION_COLUMNS)
    lines = ["| method | scores | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for _, r in head.iterrows():
        kind = score_kinds.get(r["method"], "cosine")
        cells = []
        for c in cols:
            if kind != "llr" and c in ("Cllr", "act DCF"):
                cells.append("n/a")
            elif not np.isfinite(r[c]):
                cells.append("—")
            else:
                cells.append(f"{r[c]:.3f}" + (f" ± {r[f'{c} std']:.3f}" if np.isfinite(r[f"{c} std"]) else ""))
        lines.append(f"| {r['method']} | {'LLR' if kind == 'llr' else 'cosine'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def one_to_n_table(summary: pd.DataFrame, split: str = UU) -> pd.DataFrame:
    """Columns system, direction, n, accuracy, std (the input of the 1:N figure)."""
    m = summary[(summary["protocol"] == "matching") & (summary["split"] == split)]
    return pd.DataFrame(
        {
            "system": m["method"].to_numpy(),
            "direction": m["direction"].to_numpy(),
            "n": m["constraint"].str.removeprefix("N=").astype(int).to_numpy(),
            "accuracy": m["mean"].to_numpy(),
            "std": m["std"].to_numpy(),
        }
    )


def lists_markdown(lists: pd.DataFrame) -> str:
    """Per method and verification list: EER / AUC / reference EER as mean ± std."""
    lines = ["| method | list | trials | EER % | AUC % | reference EER % |", "|---|---|---|---|---|---|"]
    for (method, name), g in lists.groupby(["method", "split"], sort=False):
        cell = {r["metric"]: _pm(r["mean"], r["std"]) for _, r in g.iterrows()}
        n = int(g["n"].iloc[0])
        lines.append(
            f"| {method} | {name} | {n} | {cell.get('eer')} | {cell.get('auc')} | {cell.get('reference_eer')} |"
        )
    return "\n".join(lines) + "\n"


def full_markdown(summary: pd.DataFrame) -> str:
    """Every figure as mean ± std, one table per protocol (rows: method / split / direction / constraint)."""
    parts = []
    for protocol, sub in summary.groupby("protocol", sort=False):
        wide = sub.assign(cell=[_pm(a, b) for a, b in zip(sub["mean"], sub["std"], strict=True)])
        wide = wide.pivot_table(
            index=["method", "split", "direction", "constraint"],
            columns="metric",
            values="cell",
            aggfunc="first",
            sort=False,
        )
        cols = list(wide.columns)
        parts.append(
            f"### {protocol}\n\n| method | split | direction | constraint | "
            + " | ".join(f"{c} %" for c in cols)
            + " |"
        )
        parts.append("|---" * (4 + len(cols)) + "|")
        for key, row in wide.iterrows():
            parts.append("| " + " | ".join(map(str, key)) + " | " + " | ".join(str(row[c]) for c in cols) + " |")
        parts.append("")
    return "\n".join(parts)


def write_benchmark_outputs(
    out: str | Path,
    long: pd.DataFrame,
    runs: pd.DataFrame,
    headline_scores: Mapping[str, tuple[np.ndarray, np.ndarray]],
    meta: Mapping[str, Any],
    paired: pd.DataFrame | None = None,
) -> Path:
    """Write results_long.csv, results.csv, runs.csv, results.json, scores/, figures and report.md.

    ``paired``: the paired comparison with CCA (:mod:`facevoice.report.paired`), if any;
    written to ``paired_vs_cca.csv`` and ``results.json`` and shown in the report.
    """

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    long.to_csv(out / "results_long.csv", index=False)
    summary = aggregate(long)
    summary.to_csv(out / "results.csv", index=False)
    runs.to_csv(out / "runs.csv", index=False)
    (out / "scores").mkdir(exist_ok=True)
    for name, (scores, labels) in headline_scores.items():
        np.savez(out / "scores" / f"{name}.npz", scores=scores, labels=labels)
    head = headline_table(summary, runs)
    checks = cca_check(head, paired)
    paired = paired if paired is not None else pd.DataFrame()
    if len(paired):
        paired.to_csv(out / "paired_vs_cca.csv", index=False)
    doc = {
        "meta": dict(meta),
        "headline": json.loads(head.to_json(orient="records")),
        "beats_cca": checks,
        "paired_vs_cca": json.loads(paired.to_json(orient="records")) if len(paired) else [],
        "summary": json.loads(summary.to_json(orient="records")),
        "runs": json.loads(runs.to_json(orient="records")),
    }
    (out / "results.json").write_text(json.dumps(doc, indent=2, default=str))
    figures = benchmark_figures(out, summary, runs, one_to_n_table(summary))
    (out / "report.md").write_text(render_report(meta, head, checks, summary, figures, paired))
    return out


def render_report(
    meta: Mapping[str, Any],
    head: pd.DataFrame,
    checks: Mapping,
    summary: pd.DataFrame,
    figures,
    paired: pd.DataFrame | None = None,
) -> str:
    """The Markdown report."""
    seeds = ", ".join(map(str, meta.get("seeds", [])))
    replicates = str(meta.get("replicates", "seeds"))
    folds = f"; {meta['folds']} identity folds" if meta.get("folds") else ""
    lines = [
        f"# Benchmark: {meta.get('benchmark')}",
        "",
        f"Methods: {', '.join(meta.get('methods', []))}; seeds: {seeds}{folds}; "
        f"data: `{json.dumps(meta.get('data', {}))}`.",
        f"Checkpoints are selected on validation identities only. Rates in %, mean ± std over {replicates} "
        "(sample std). UU = unseen-unheard (test identities disjoint from training), SH = seen-heard "
        "(training identities, held-out videos); verification and 1:N columns are voice→face (V→F); "
        "G/N/A/GNA: negatives share gender / nationality / age band / all three with the probe (unseen-unheard). "
        "`s/epoch`: mean training time per epoch (CCA: fit time). `oracle`: the simulator's Bayes-optimal "
        "scores (simulated data only; a ceiling, not a method).",
        "",
    ]
    if meta.get("folds"):
        lines += [
            f"Each fold's identities are the unseen-unheard test set once (leave-one-fold-out over {meta['folds']} "
            "gender-stratified folds); a fold's figure is its mean over seeds, and ± is the spread across folds. "
            "Per-fold reports: `fold<k>/report.md`.",
            "",
        ]
    present = set(head["method"]) if len(head) else set()
    if present & {"gender-only", "chance"}:
        lines += [
            "Reference rows: `gender-only` matches by the manifest's gender alone (what gender, and nothing else, "
            "is worth on this test set); `chance` gives every pair the same score (EER 50 %, 1:N = 1/N).",
            "",
        ]
    lines += ["## Headline", "", headline_markdown(head, replicates)]
    lines += [
        "## Calibration (unseen-unheard, V→F, random negatives)",
        "",
        "Cllr / min Cllr in bits (0 = perfect, 1 = uninformative); DCFs normalised, p_target 0.01. "
        "`<method>+plda`: the PLDA back-end fitted on that method's embeddings; `<method>-head`: an "
        "ablation back-end of the method (docs/backends.md).",
        "",
        calibration_markdown(head, meta.get("score_kinds") or {}),
    ]
    if checks:
        lines += ["## Versus the CCA baseline", ""]
        for name, c in checks.items():
            verdict = "beats" if c["beats_cca_eer"] and c["beats_cca_auc"] else "does NOT beat"
            eers = f"{100 * c['uu_eer']:.1f}% vs {100 * c['cca_uu_eer']:.1f}%"
            line = f"- **{name}** {verdict} CCA on unseen-unheard EER: {eers}"
            trails = c.get("trails_cca") or {}
            if trails:
                worse = ", ".join(f"{k} {100 * a:.1f} vs {100 * b:.1f}" for k, (a, b) in trails.items())
                line += f"; trails or ties it on {worse}"
            else:
                line += "; better on every headline column"
            line += _paired_clause(c.get("paired_verdicts") or {})
            lines.append(line)
        lines.append("")
        if paired is not None and len(paired):
            lines += [paired_markdown(paired), ""]
    for title, path in figures.items():
        lines += [f"## {title}", "", f"![{title}]({Path(path).name})", ""]
    lists = summary[summary["constraint"] == "list"]
    if len(lists):
        lines += ["## Verification lists (data.tests)", "", lists_markdown(lists), ""]
    lines += ["## All figures", "", full_markdown(summary)]
    lines += [f"Wall time of the benchmark: {meta.get('wall_time_s', float('nan')):.0f} s.", ""]
    return "\n".join(lines)
