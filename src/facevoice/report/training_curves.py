"""Training and benchmark figures (matplotlib Agg, imported lazily), built from result files only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.report.figures import det_figure, one_to_n_figure, pyplot, roc_figure, save_figure


def read_metrics(run_dir: str | Path) -> pd.DataFrame:
    """A run's ``metrics.jsonl`` as a DataFrame (empty when the run has none, e.g. a fitted baseline)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return pd.DataFrame()
    return pd.DataFrame([json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()])


def training_curves_figure(runs: pd.DataFrame, path: str | Path) -> Path | None:
    """Validation EER and training loss per epoch, one line per method (its first seed); None if no curves."""
    curves = {}
    for method, g in runs.groupby("method", sort=False):
        m = read_metrics(g.sort_values("seed")["run_dir"].iloc[0])
        if len(m):
            curves[method] = m
    if not curves:
        return None
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for method, m in curves.items():
        if "val_eer" in m:
            v = m.dropna(subset=["val_eer"])
            a1.plot(v["epoch"], 100 * v["val_eer"], marker=".", label=method)
        if "train_loss" in m:
            a2.plot(m["epoch"], m["train_loss"], label=method)
    a1.set(xlabel="epoch", ylabel="validation EER (%)", title="selection metric (val identities)")
    a2.set(xlabel="epoch", ylabel="training loss", title="training loss", yscale="log")
    for ax in (a1, a2):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if not a1.lines:  # runs without validation identities keep their last epoch
        a1.text(
            0.5, 0.5, "no validation identities:\nlast epoch kept", ha="center", va="center", transform=a1.transAxes
        )
    return save_figure(fig, path)


def eer_bars_figure(summary: pd.DataFrame, path: str | Path, split: str = "test_unseen") -> Path | None:
    """Bar chart of V→F EER (mean ± std over seeds) per method and verification constraint."""
    s = summary[
        (summary["protocol"] == "verification")
        & (summary["split"] == split)
        & (summary["direction"] == "v2f")
        & (summary["metric"] == "eer")
    ]
    if s.empty:
        return None
    methods = list(dict.fromkeys(s["method"]))
    cons = list(dict.fromkeys(s["constraint"]))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(methods) * len(cons) / 3), 3.8))
    width = 0.8 / len(cons)
    for j, c in enumerate(cons):
        sub = s[s["constraint"] == c].set_index("method").reindex(methods)
        x = np.arange(len(methods)) + j * width
        mean, std = 100 * sub["mean"].to_numpy(float), 100 * sub["std"].fillna(0).to_numpy(float)
        ax.bar(x, mean, width, yerr=[np.minimum(std, np.nan_to_num(mean)), std], label=c, capsize=2)  # not below 0
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods, rotation=20)
    ax.set(ylabel="EER (%)", title=f"{split} V→F EER by constraint", ylim=(0, None))
    ax.legend(fontsize=7, ncol=len(cons))
    return save_figure(fig, path)


def benchmark_figures(out: Path, summary: pd.DataFrame, runs: pd.DataFrame, one_to_n: pd.DataFrame) -> dict[str, Path]:
    """ROC and DET (headline trial scores in ``out/scores``), 1:N curves, EER bars and training curves."""

    figs: dict[str, Path] = {}
    systems = {}
    for f in sorted((out / "scores").glob("*.npz")):
        with np.load(f) as z:
            systems[f.stem] = (z["scores"], z["labels"])
    if systems:
        figs["ROC, unseen-unheard V→F (first seed)"] = roc_figure(
            systems, out / "roc_unseen_v2f.png", "unseen-unheard V→F"
        )
        figs["DET, unseen-unheard V→F (first seed)"] = det_figure(
            systems, out / "det_unseen_v2f.png", "unseen-unheard V→F"
        )
    if len(one_to_n):
        figs["1:N matching, unseen-unheard (N = 2…10)"] = one_to_n_figure(one_to_n, out / "one_to_n_unseen.png")
    bars = eer_bars_figure(summary, out / "eer_unseen_constraints.png")
    if bars is not None:
        figs["EER by constraint, unseen-unheard V→F"] = bars
    if len(runs):
        curves = training_curves_figure(runs, out / "training_curves.png")
        if curves is not None:
            figs["Training curves (first seed)"] = curves
    return figs
