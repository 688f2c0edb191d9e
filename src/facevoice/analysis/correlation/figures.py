"""The correlation study's figure: a metric against the EER with the least-squares line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from facevoice.analysis.correlation.stats import pearson, spearman
from facevoice.report.figures import pyplot, save_figure


def metric_scatter(
    x: Sequence[float],
    y: Sequence[float],
    path: str | Path,
    xlabel: str = "metric",
    ylabel: str = "EER",
    labels: Sequence[str] | None = None,
) -> Path:
    """Scatter of a metric ``x`` ``(n,)`` against the EER ``y`` ``(n,)`` with the least-squares line and rho.

    The title gives Spearman rho and Pearson r (from :mod:`facevoice.analysis.correlation.stats`).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rho, p_rho = spearman(x, y)
    r, _ = pearson(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    ax.scatter(x, y, s=28, color="tab:blue", zorder=3)
    grid = np.linspace(x.min(), x.max(), 50)
    ax.plot(grid, slope * grid + intercept, color="tab:red", lw=1.5, label="OLS fit")
    if labels is not None:
        for xi, yi, lab in zip(x, y, labels, strict=True):
            ax.annotate(str(lab), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"Spearman ρ = {rho:.2f} (p = {p_rho:.2g}), Pearson r = {r:.2f}", fontsize=9)
    ax.grid(alpha=0.3)
    return save_figure(fig, path, dpi=150)
