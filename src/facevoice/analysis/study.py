"""The geometry study on embedding stores: per-encoder geometry and per-pair metrics tables.

Input: a manifest (identities, modalities, splits) and embedding stores (one encoder each). A
store's items are joined to the manifest by ``item_id``; its modality is read from the manifest.
Output (``out_dir``): ``encoders.csv`` (one row per store), ``pairs.csv`` (one row per face store x
voice store, ready for ``facevoice analyze correlate``) and ``cka_heatmap.png``. ``pairs.csv`` has
two ID mismatches: ``id_mismatch`` between the two stores' per-sample ``id_mle`` of ``encoders.csv``
(the published study's definition) and ``id_mismatch_centroids`` on the identity centroids.

The CCA-baseline EER of a pair is fitted on the manifest's ``train`` identities and evaluated on
its unseen test identities (``test_unseen``, else ``test``); when the manifest has no such split a
seeded 80/20 identity split is used instead (recorded in the ``eer_split`` column).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.analysis.crossmodal.figures import cka_heatmap
from facevoice.analysis.crossmodal.pair import pair_metrics
from facevoice.analysis.geometry.encoder import encoder_geometry
from facevoice.data.manifest import read_manifest
from facevoice.store import EmbeddingStore


@dataclass
class StoreView:
    """One store's embeddings joined to the manifest: ``X`` ``(N, D)`` with per-row identity and split."""

    root: Path
    tag: str
    modality: str
    X: np.ndarray
    identity: np.ndarray
    split: np.ndarray
    n_not_in_manifest: int


def load_store(root: str | Path, manifest: pd.DataFrame, splits: Iterable[str] | None = None) -> StoreView:
    """Read every embedding of a store and attach identities/splits from ``manifest``.

    Items absent from the manifest are left out and counted in ``n_not_in_manifest``; a store whose
    items span both modalities, or match no manifest row, is an error naming the store.
    """

    store = EmbeddingStore.open(root)
    ids, X = store.read_all()
    rows = manifest.set_index("item_id").reindex(ids)
    in_manifest = rows["identity"].notna().to_numpy()
    known = in_manifest.copy()
    if splits is not None:
        known &= rows["split"].isin(list(splits)).to_numpy()
    if not known.any():
        raise ValueError(f"{root}: none of the store's {len(ids)} items are in the manifest (splits={splits})")
    rows = rows[known]
    mods = rows["modality"].unique().tolist()
    if len(mods) != 1:
        raise ValueError(f"{root}: store items span modalities {mods}; one store must hold one modality")
    not_in_manifest = int((~in_manifest).sum())
    return StoreView(
        Path(root), store.encoder_tag, mods[0], np.asarray(X[known], dtype=np.float64),
        rows["identity"].astype(str).to_numpy(), rows["split"].astype(str).to_numpy(), not_in_manifest,
    )  # fmt: skip


def eer_identities(face: StoreView, voice: StoreView) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Train and unseen-test identities for the CCA-baseline EER from the manifest splits."""
    train = np.intersect1d(face.identity[face.split == "train"], voice.identity[voice.split == "train"])
    for name in ("test_unseen", "test"):
        test = np.intersect1d(face.identity[face.split == name], voice.identity[voice.split == name])
        if train.size >= 2 and test.size >= 2:
            return train, test, f"manifest:train/{name}"
    return None, None, "seeded-identity-split"


def run_geometry_study(
    manifest: pd.DataFrame | str | Path,
    face_stores: Sequence[str | Path],
    voice_stores: Sequence[str | Path],
    out_dir: str | Path | None = None,
    with_pairs: bool = True,
    with_eer: bool = True,
    splits: Iterable[str] | None = None,
    seed: int = 0,
    progress: bool = False,
    convention: str = "standard",
    eer_protocol: str = "centroids",
) -> dict[str, pd.DataFrame]:
    """Per-encoder geometry of every store and cross-modal metrics of every face x voice pair.

    Args:
        manifest: manifest DataFrame or path (``read_manifest``).
        face_stores / voice_stores: store directories (their modality is checked against the manifest).
        splits: restrict every store to these manifest splits (all when None).
        convention: ``"standard"`` (METHODS.md) or ``"reference"``: the published code's curvature
            estimator and ``(FPR + FNR) / 2`` EER where METHODS.md differs.
        eer_protocol: ``"centroids"`` or ``"samples"`` (:func:`facevoice.analysis.crossmodal.pair.cca_baseline_eer`).

    Returns:
        ``{"encoders": DataFrame, "pairs": DataFrame}`` (``pairs`` empty without ``with_pairs``).
    """

    if convention not in ("standard", "reference"):
        raise ValueError(f"convention must be 'standard' or 'reference', got {convention!r}")
    if not isinstance(manifest, pd.DataFrame):
        manifest = read_manifest(manifest)
    views: dict[str, list[StoreView]] = {"face": [], "voice": []}
    for modality, roots in (("face", face_stores), ("voice", voice_stores)):
        for root in roots:
            v = load_store(root, manifest, splits)
            if v.modality != modality:
                raise ValueError(f"{root}: given as a {modality} store but its items are {v.modality} in the manifest")
            views[modality].append(v)
    all_views = views["face"] + views["voice"]
    enc_rows = []
    for v in _progress(all_views, progress, "encoder geometry"):
        row = {"encoder": v.tag, "modality": v.modality, "store": str(v.root), "n_not_in_manifest": v.n_not_in_manifest}
        row.update(encoder_geometry(v.X, v.identity, seed=seed, curvature_convention=convention))
        enc_rows.append(row)
    id_mle = {str(r["store"]): r["id_mle"] for r in enc_rows}
    pair_rows = []
    if with_pairs:
        combos = [(f, v) for f in views["face"] for v in views["voice"]]
        for f, v in _progress(combos, progress, "pair metrics"):
            train, test, how = eer_identities(f, v)
            row = {"face_encoder": f.tag, "voice_encoder": v.tag, "pair": f"{f.tag}|{v.tag}"}
            row.update(pair_metrics(f.X, f.identity, v.X, v.identity, train_identities=train,
                                    test_identities=test, with_eer=with_eer, id_face=id_mle[str(f.root)],
                                    id_voice=id_mle[str(v.root)], eer_protocol=eer_protocol,
                                    eer_estimator="reference" if convention == "reference" else "exact",
                                    seed=seed))  # fmt: skip
            if with_eer:
                row["eer_split"] = how
            pair_rows.append(row)
    result = {"encoders": pd.DataFrame(enc_rows), "pairs": pd.DataFrame(pair_rows)}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result["encoders"].to_csv(out / "encoders.csv", index=False)
        if pair_rows:
            result["pairs"].to_csv(out / "pairs.csv", index=False)

            cka_heatmap(result["pairs"], out / "cka_heatmap.png")
    return result


def _progress(items: list, enabled: bool, label: str):
    if not enabled:
        yield from items
        return
    from rich.progress import track

    yield from track(items, description=label)
