"""Figures of the cross-modal geometry study (matplotlib with the Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.core.tags import display_names
from facevoice.report.figures import pyplot, save_figure


def cka_heatmap(
    table: pd.DataFrame,
    path: str | Path,
    value: str = "cka_linear",
    row: str = "face_encoder",
    col: str = "voice_encoder",
) -> Path:
    """Heatmap of ``value`` over face encoders (rows) x voice encoders (columns) of a per-pair table.

    Encoder tags are shown by their short display names (:func:`facevoice.core.tags.display_names`).
    """
    for c in (value, row, col):
        if c not in table.columns:
            raise KeyError(f"heatmap needs column {c!r}; table has {list(table.columns)}")
    grid = table.pivot_table(index=row, columns=col, values=value, aggfunc="mean")
    short = display_names([*map(str, grid.index), *map(str, grid.columns)])  # full tags clip the axes
    grid.index = [short[str(r)] for r in grid.index]
    grid.columns = [short[str(c)] for c in grid.columns]
    plt = pyplot()
    row_chars = max(len(str(r)) for r in grid.index)
    col_chars = max(len(str(c)) for c in grid.columns)
    size = (2.6 + 1.1 * grid.shape[1] + 0.07 * row_chars, 1.6 + 0.6 * grid.shape[0] + 0.05 * col_chars)
    fig, ax = plt.subplots(figsize=size)
    im = ax.imshow(grid.to_numpy(), cmap="viridis", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [str(r) for r in grid.index], fontsize=8)
    lo, hi = np.nanmin(grid.to_numpy()), np.nanmax(grid.to_numpy())
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if np.isfinite(v):
                light = hi > lo and (v - lo) / (hi - lo) > 0.6  # viridis turns yellow: dark text there
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="k" if light else "w")
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    fig.colorbar(im, ax=ax, label=value, format="%.4g")
    return save_figure(fig, path, dpi=150)
