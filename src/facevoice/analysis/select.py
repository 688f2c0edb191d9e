"""Encoder-pair selection: rank candidate face x voice encoder pairs by linear CKA.

Linear CKA between the L2-normalised identity centroids of the two modalities is the cheap
predictor of the study (it correlates with the cross-modal EER of the CCA baseline; higher CKA,
lower EER), so it can rank candidate pairs on a small calibration set before any training.

Input: a manifest listing the calibration items (identities, modalities) and, per candidate
encoder, an embedding store of those items. As a YAML file::

    manifest: calib/manifest.parquet      # paths relative to this file
    splits: [val]                         # optional: only these manifest splits
    face_stores: [stores/face_a, stores/face_b]
    voice_stores: [stores/voice_a, stores/voice_b]

Only identities present in both stores of a pair are compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from facevoice.analysis.crossmodal.metrics import aligned_centroids, linear_cka
from facevoice.analysis.study import load_store
from facevoice.data.manifest import read_manifest

_SPEC_KEYS = {"manifest", "splits", "face_stores", "voice_stores"}


def load_selection_spec(path: str | Path) -> dict:
    """Read a selection YAML (format above); relative paths are resolved against its folder."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"selection spec not found: {path}")
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a mapping with keys {sorted(_SPEC_KEYS)}")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}; valid: {sorted(_SPEC_KEYS)}")
    for key in ("manifest", "face_stores", "voice_stores"):
        if not spec.get(key):
            raise ValueError(f"{path}: missing or empty {key!r}")
    base = path.parent

    def _abs(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else base / q

    stores = {}
    for key in ("face_stores", "voice_stores"):
        if isinstance(spec[key], str):
            spec[key] = [spec[key]]
        stores[key] = [_abs(p) for p in spec[key]]
    splits = spec.get("splits")
    return {"manifest": _abs(spec["manifest"]), "splits": [splits] if isinstance(splits, str) else splits, **stores}


def rank_pairs(
    manifest: pd.DataFrame | str | Path,
    face_stores: Sequence[str | Path],
    voice_stores: Sequence[str | Path],
    splits: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Linear CKA of every face store x voice store pair on the manifest's items, best first.

    Args:
        manifest: manifest DataFrame or path; gives each item's identity and modality.
        face_stores / voice_stores: candidate embedding-store directories.
        splits: only items of these manifest splits (all when None).

    Returns:
        Columns ``rank, face_encoder, voice_encoder, cka_linear, n_identities, face_store, voice_store``,
        sorted by ``cka_linear`` descending (rank 1 = predicted best pair).
    """

    if not isinstance(manifest, pd.DataFrame):
        manifest = read_manifest(manifest)
    if not face_stores or not voice_stores:
        raise ValueError("selection needs at least one face store and one voice store")
    splits = list(splits) if splits is not None else None
    faces = [load_store(r, manifest, splits) for r in face_stores]
    voices = [load_store(r, manifest, splits) for r in voice_stores]
    for views, want in ((faces, "face"), (voices, "voice")):
        for v in views:
            if v.modality != want:
                raise ValueError(f"{v.root}: given as a {want} store but its items are {v.modality} in the manifest")
    rows = []
    for f in faces:
        for v in voices:
            ids, Cf, Cv = aligned_centroids(f.X, f.identity, v.X, v.identity)
            row = {"face_encoder": f.tag, "voice_encoder": v.tag, "cka_linear": linear_cka(Cf, Cv)}
            row.update(n_identities=int(ids.size), face_store=str(f.root), voice_store=str(v.root))
            rows.append(row)
    table = pd.DataFrame(rows).sort_values("cka_linear", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def select_from_spec(path: str | Path) -> pd.DataFrame:
    """:func:`rank_pairs` with the inputs of a selection YAML file."""
    spec = load_selection_spec(path)
    return rank_pairs(spec["manifest"], spec["face_stores"], spec["voice_stores"], spec["splits"])
