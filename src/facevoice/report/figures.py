"""Figures built only from scores and result tables: ROC, DET and 1:N accuracy against N.

matplotlib is imported lazily with the non-interactive Agg backend, so this works headless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.eval.metrics import det_curve, eer, roc_curve


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported lazily)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def roc_figure(systems: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "ROC") -> Path:
    """ROC curves of several systems: ``systems[name] = (scores (T,), labels (T,))``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (scores, labels) in systems.items():
        fpr, tpr, _ = roc_curve(scores, labels, drop_intermediate=True)
        ax.plot(fpr, tpr, label=f"{name} (EER {100 * eer(scores, labels).eer:.1f}%)")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def det_figure(systems: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "DET") -> Path:
    """DET curves (miss vs false-alarm rate on normal-deviate axes) of several systems."""
    from scipy.stats import norm

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ticks = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9])
    clip = (1e-3, 1 - 1e-3)
    for name, (scores, labels) in systems.items():
        fpr, fnr, _ = det_curve(scores, labels)
        ax.plot(norm.ppf(np.clip(fpr, *clip)), norm.ppf(np.clip(fnr, *clip)), label=name)
    ax.plot(norm.ppf(clip), norm.ppf(clip), color="0.7", lw=0.8, ls="--")
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    lim = norm.ppf([0.005, 0.95])
    ax.set(xlabel="false alarm rate (%)", ylabel="miss rate (%)", title=title, xlim=lim, ylim=lim)
    ax.legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)


def one_to_n_figure(
    table: pd.DataFrame, path: str | Path, title: str = "1:N matching", directions: Sequence[str] = ("v2f", "f2v")
) -> Path:
    """Accuracy against N: ``table`` has columns system, direction, n, accuracy (and optional std)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(directions), figsize=(4.4 * len(directions), 3.8), squeeze=False)
    for ax, direction in zip(axes[0], directions, strict=True):
        sub = table[table["direction"] == direction]
        for name, g in sub.groupby("system", sort=False):
            g = g.sort_values("n")
            ax.plot(g["n"], 100 * g["accuracy"], marker="o", ms=3, label=str(name))
            if "std" in g and g["std"].notna().any():
                lo, hi = 100 * (g["accuracy"] - g["std"]), 100 * (g["accuracy"] + g["std"])
                ax.fill_between(g["n"], lo, hi, alpha=0.15)
        ns = np.arange(2, int(sub["n"].max()) + 1) if len(sub) else np.arange(2, 11)
        if "chance" not in set(sub["system"]):  # a benchmark's own chance row draws it already
            ax.plot(ns, 100 / ns, color="0.6", ls="--", lw=0.8, label="chance")
        ax.set(xlabel="N (candidates)", ylabel="accuracy (%)", title=f"{title}: {direction}", ylim=(0, 102))
        ax.set_xticks(ns if len(ns) <= 12 else ns[:: int(np.ceil(len(ns) / 12))])  # whole numbers of candidates
        ax.set_xlim(ns[0] - 0.5, ns[-1] + 0.5)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Lay out, write ``fig`` to ``path`` (parent folders created), close it; return the path.

    The saved area is grown to whatever the labels need (``bbox_inches="tight"``), so long tick labels
    are never cut even where ``tight_layout`` gives up.
    """
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path
