"""Is a method's lead over the CCA baseline larger than the noise of the trial lists?

The headline table compares seed means: a 1-point AUC gap on a 3,600-trial list may be chance.
Every method and CCA are scored on the *same* trials, so the benchmark compares them pairwise
(:func:`facevoice.eval.paired.paired_auc_bootstrap`): for each verification column of the
headline, the mean over training seeds of ``AUC(method) − AUC(CCA)`` with a 95% interval from
resampling the list's probes (all trials of a probe move together). ``better`` / ``worse``: the
interval excludes 0; ``tie``: it covers 0. The interval measures how much the *test list* could
move the comparison; the spread over training seeds is in the headline's ± column.

Trial scores of every run are kept in ``<out>/trial_scores/<method>.npz`` (one array per seed,
row-aligned with ``<out>/protocols/trials.tsv``), so the comparison can be recomputed or extended.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.eval.paired import paired_auc_bootstrap, verdict
from facevoice.report.headline import HEADLINE_COLUMNS, REFERENCE_ROWS

PAIRED_COLUMNS = {k: v for k, v in HEADLINE_COLUMNS.items() if v[0] == "verification" and v[4] == "auc"}


def save_trial_scores(out: str | Path, trial_scores: Mapping[str, Mapping[int, np.ndarray]]) -> None:
    """``trial_scores/<method>.npz`` with one float64 array ``seed<k>`` per seed."""
    folder = Path(out) / "trial_scores"
    folder.mkdir(parents=True, exist_ok=True)
    for name, by_seed in trial_scores.items():
        arrays = {f"seed{k}": np.asarray(v, np.float64) for k, v in by_seed.items()}
        np.savez(folder / f"{name}.npz", **arrays)


def save_and_compare(
    out: str | Path, trials: pd.DataFrame, trial_scores: Mapping[str, Mapping[int, np.ndarray]], n_boot, seed
) -> pd.DataFrame:
    """Save every run's trial scores under ``out`` and return :func:`paired_vs_cca` of them."""
    save_trial_scores(out, trial_scores)
    return paired_vs_cca(trials, trial_scores, n_boot=int(n_boot), seed=int(seed))


def paired_vs_cca(
    trials: pd.DataFrame,
    trial_scores: Mapping[str, Mapping[int, np.ndarray]],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per trained method × verification AUC column of the headline (empty without CCA).

    ``trials``: the benchmark's trial table; ``trial_scores[method][seed]``: scores row-aligned with
    it. Columns: method, column, diff, lo, hi, p_le_0, verdict, per_seed, n_trials, n_probes.
    """
    cols = ["method", "column", "diff", "lo", "hi", "p_le_0", "verdict", "per_seed", "n_trials", "n_probes"]
    if "cca" not in trial_scores or n_boot < 1:
        return pd.DataFrame(columns=cols)
    cca = np.asarray(next(iter(trial_scores["cca"].values())), np.float64)  # deterministic: one fit
    labels, probes = trials["label"].to_numpy(), trials["probe_id"].to_numpy(str)
    lists = {}  # column -> trial rows, once for every method
    for col, (_, split, direction, constraint, _) in PAIRED_COLUMNS.items():
        sel = (trials["split"] == split) & (trials["direction"] == direction) & (trials["constraint"] == constraint)
        idx = np.flatnonzero(sel.to_numpy())
        if idx.size and labels[idx].min() != labels[idx].max():
            lists[col] = idx
    rows = []
    for name, by_seed in trial_scores.items():
        if name in REFERENCE_ROWS:
            continue
        for col, idx in lists.items():
            A = np.stack([np.asarray(s, np.float64)[idx] for s in by_seed.values()])
            r = paired_auc_bootstrap(A, cca[idx], labels[idx], probes[idx], n_boot, level, seed)
            rows.append([name, col, r.diff, r.lo, r.hi, r.p_le_0, verdict(r), list(r.per_run), idx.size, r.n_clusters])
    return pd.DataFrame(rows, columns=cols)


def paired_markdown(paired: pd.DataFrame, level: float = 0.95) -> str:
    """Method × column table of ``diff [lo, hi]`` in AUC points, with the verdict under each."""
    if paired.empty:
        return ""
    cols = [c for c in PAIRED_COLUMNS if c in set(paired["column"])]
    lines = [
        f"AUC(method) − AUC(CCA) in points, mean over seeds, [{100 * level:.0f}% paired bootstrap interval over "
        "probes]; **better** / **worse**: the interval excludes 0, tie: it covers 0.",
        "",
        "| method | " + " | ".join(cols) + " |",
        "|---" * (1 + len(cols)) + "|",
    ]
    for name, g in paired.groupby("method", sort=False):
        cells = {r["column"]: _cell(r) for _, r in g.iterrows()}
        lines.append(f"| {name} | " + " | ".join(cells.get(c, "—") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _cell(r: pd.Series) -> str:
    text = f"{100 * r['diff']:+.1f} [{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}]"
    return f"**{r['verdict']}** {text}" if r["verdict"] != "tie" else f"tie {text}"
