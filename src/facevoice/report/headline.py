"""The benchmark's headline: which figures sum a method up, and the mean ± std table over seeds.

``aggregate`` turns the long per-seed results table into mean ± std per method; ``headline_table``
picks the figures of :data:`HEADLINE_COLUMNS` (unseen-unheard and seen-heard EER/AUC, G/N/A/GNA
AUC, 1:2 and 1:10 accuracy, retrieval mAP, V→F) and the calibration figures of
:data:`CALIBRATION_COLUMNS` (unseen-unheard V→F random list). The report and the paired comparison
both read these definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

KEYS = ["method", "protocol", "split", "direction", "constraint", "metric"]
REFERENCE_ROWS = ("cca", "oracle", "gender-only", "chance")
UU, SH = "test_unseen", "test_seen"


def aggregate(long: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1; NaN for one seed) and seed count of every figure, per method."""
    g = long.groupby(KEYS, sort=False)
    out = g["value"].agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else np.nan)
    out["n_seeds"] = g["seed"].nunique()
    out["n"] = g["n"].first()
    return out.reset_index()


def _get(summary: pd.DataFrame, method: str, protocol: str, split: str, direction: str, constraint: str, metric: str):
    s = summary
    row = s[
        (s["method"] == method)
        & (s["protocol"] == protocol)
        & (s["split"] == split)
        & (s["direction"] == direction)
        & (s["constraint"] == constraint)
        & (s["metric"] == metric)
    ]
    return (float(row["mean"].iloc[0]), float(row["std"].iloc[0])) if len(row) else (np.nan, np.nan)


HEADLINE_COLUMNS: dict[str, tuple[str, str, str, str, str]] = {
    "UU EER": ("verification", UU, "v2f", "random", "eer"),
    "UU AUC": ("verification", UU, "v2f", "random", "auc"),
    "SH EER": ("verification", SH, "v2f", "random", "eer"),
    "SH AUC": ("verification", SH, "v2f", "random", "auc"),
    "AUC G": ("verification", UU, "v2f", "G", "auc"),
    "AUC N": ("verification", UU, "v2f", "N", "auc"),
    "AUC A": ("verification", UU, "v2f", "A", "auc"),
    "AUC GNA": ("verification", UU, "v2f", "GNA", "auc"),
    "1:2": ("matching", UU, "v2f", "N=2", "accuracy"),
    "1:10": ("matching", UU, "v2f", "N=10", "accuracy"),
    "mAP": ("retrieval", UU, "v2f", "all", "map"),
}
#: calibration of the unseen-unheard V→F random list: Cllr and min Cllr in bits, DCFs at p_target 0.01
CALIBRATION_COLUMNS: dict[str, tuple[str, str, str, str, str]] = {
    "Cllr": ("verification", UU, "v2f", "random", "cllr"),
    "min Cllr": ("verification", UU, "v2f", "random", "min_cllr"),
    "act DCF": ("verification", UU, "v2f", "random", "act_dcf"),
    "min DCF": ("verification", UU, "v2f", "random", "min_dcf"),
}


def headline_table(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per method: the headline figures as fractions (``<col>`` mean, ``<col> std``) and timing."""
    rows = []
    for method in summary["method"].unique():
        row: dict[str, Any] = {"method": method}
        for col, key in {**HEADLINE_COLUMNS, **CALIBRATION_COLUMNS}.items():
            row[col], row[f"{col} std"] = _get(summary, method, *key)
        r = runs[runs["method"] == method] if len(runs) else runs
        row["s/epoch"] = float(r["time_per_epoch_s"].astype(float).mean()) if len(r) else np.nan
        row["epochs"] = float(r["epochs"].astype(float).mean()) if len(r) and r["epochs"].notna().all() else np.nan
        row["params"] = (
            int(r["n_trainable_parameters"].iloc[0])
            if len(r) and pd.notna(r["n_trainable_parameters"].iloc[0])
            else None
        )
        row["seeds"] = int(summary.loc[summary["method"] == method, "n_seeds"].max())
        rows.append(row)
    return pd.DataFrame(rows)
