"""Layer-wise linear identity probing of a registered encoder.

For every hidden state of a layered encoder (0 = embedding output, then one per transformer layer)
the items of a manifest are represented by their pooled hidden state (masked mean over valid
frames for speech; the encoder's token pooling for images; frames of a video averaged), and a
linear classifier (standardised features → multinomial logistic regression) is trained to
predict identity. The held-out accuracy per layer shows where identity is linearly readable.

Held-out items are a stratified per-identity split (``test_size`` of each identity's items);
identities with fewer than two items cannot be split and are reported, not silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.core.log import get_logger
from facevoice.core.types import SkipItem
from facevoice.report.figures import pyplot, save_figure

log = get_logger(__name__)


@dataclass
class ProbeResult:
    """``table``: one row per layer (layer, accuracy, chance, n_train, n_test, n_classes)."""

    table: pd.DataFrame
    encoder: str
    skipped: list[dict[str, Any]] = field(default_factory=list)
    dropped_identities: list[str] = field(default_factory=list)

    def best_layer(self) -> int:
        return int(self.table.loc[self.table["accuracy"].idxmax(), "layer"])


def layer_features(encoder: Any, items: pd.DataFrame, batch_size: int = 16) -> tuple[np.ndarray, list[str], list[dict]]:
    """Pooled hidden states of every layer for the manifest rows ``items`` → ``(L, N, D)``.

    Returns the features, the item ids kept (in ``items`` order) and skip records for items the
    encoder could not load (``SkipItem`` reasons).
    """

    if not encoder.num_layers:
        raise ValueError(f"encoder {encoder.name!r} has no per-layer outputs to probe")
    feats, kept, skipped = [], [], []
    pending: list[tuple[str, list[Any]]] = []

    def flush() -> None:
        parts = [p for _, ps in pending for p in ps]
        out = encoder.encode(parts, layers=True).layers  # (L, P, D)
        k = 0
        for iid, ps in pending:
            feats.append(out[:, k : k + len(ps)].mean(axis=1))
            kept.append(iid)
            k += len(ps)
        pending.clear()

    for iid, path in items[["item_id", "path"]].itertuples(False):
        try:
            pending.append((iid, encoder.load(path).parts))
        except SkipItem as skip:
            skipped.append({"item_id": iid, "path": str(path), "reason": skip.reason, "detail": skip.detail})
            continue
        if sum(len(p) for _, p in pending) >= batch_size:
            flush()
    if pending:
        flush()
    if skipped:
        log.warning("probe: %d item(s) skipped, e.g. %s", len(skipped), skipped[0])
    if not feats:
        raise ValueError("probe: no item could be loaded")
    return np.stack(feats, axis=1).astype(np.float32), kept, skipped


def probe_layers(
    X: np.ndarray, labels: np.ndarray, test_size: float = 0.3, seed: int = 0, C: float = 1.0, max_iter: int = 2000
) -> pd.DataFrame:
    """Held-out identity accuracy of a linear probe per layer: ``X (L, N, D)``, ``labels (N,)`` → table."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    if X.ndim != 3 or X.shape[1] != labels.shape[0]:
        raise ValueError(f"X must be (L, N, D) with N = len(labels); got {X.shape} and {labels.shape}")
    classes = np.unique(labels)
    if classes.size < 2:
        raise ValueError("probe needs at least two identities")
    idx = np.arange(labels.size)
    n_test = max(int(round(test_size * labels.size)), classes.size)
    tr, te = train_test_split(idx, test_size=n_test, stratify=labels, random_state=seed)
    rows = []
    for layer in range(X.shape[0]):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
        clf.fit(X[layer, tr], labels[tr])
        acc = float((clf.predict(X[layer, te]) == labels[te]).mean())
        rows.append({"layer": layer, "accuracy": acc})
    table = pd.DataFrame(rows)
    table["chance"] = float(np.max(np.unique(labels[tr], return_counts=True)[1]) / tr.size)
    table["n_train"], table["n_test"], table["n_classes"] = tr.size, te.size, classes.size
    return table


def layerwise_probe(
    encoder: Any,
    manifest: pd.DataFrame,
    splits: list[str] | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    max_per_identity: int | None = None,
    batch_size: int = 16,
    C: float = 1.0,
) -> ProbeResult:
    """Probe every layer of ``encoder`` on its modality's rows of ``manifest`` (optionally some splits).

    ``max_per_identity`` caps the items of each identity (a seeded random subset) to bound the cost.
    """
    rows = manifest[manifest["modality"] == encoder.modality]
    if splits:
        rows = rows[rows["split"].isin(splits)]
    if max_per_identity:  # a seeded random subset of each identity's items
        rows = rows.sample(frac=1.0, random_state=seed).groupby("identity").head(int(max_per_identity))
    rows = rows.sort_values("item_id").reset_index(drop=True)
    X, kept, skipped = layer_features(encoder, rows, batch_size)
    ident = rows.set_index("item_id").loc[kept, "identity"].to_numpy()
    counts = pd.Series(ident).value_counts()
    dropped = sorted(counts[counts < 2].index)
    if dropped:
        log.warning("probe: %d identities with a single item are left out, e.g. %s", len(dropped), dropped[:3])
    keep = ~np.isin(ident, dropped)
    table = probe_layers(X[:, keep], ident[keep], test_size=test_size, seed=seed, C=C)
    return ProbeResult(table=table, encoder=encoder.tag, skipped=skipped, dropped_identities=dropped)


def plot_probe(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Accuracy per layer for one or more encoders (x: relative depth when depths differ) → image file."""

    plt = pyplot()
    depths = {len(t) for t in tables.values()}
    relative = len(depths) > 1
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, t in tables.items():
        x = t["layer"] / max(1, t["layer"].max()) if relative else t["layer"]
        ax.plot(x, 100 * t["accuracy"], marker="o", label=name)
        ax.axhline(100 * t["chance"].iloc[0], ls=":", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xlabel("relative depth" if relative else "layer (0 = embeddings)")
    ax.set_ylabel("held-out identity accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=150)
