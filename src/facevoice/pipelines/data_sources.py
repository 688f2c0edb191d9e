"""Build the training :class:`EmbeddingBundle` from a recipe's ``data:`` section.

``source`` selects the loader:

``simulated``    ``facevoice.simceleb.simulate.simulate(preset, seed=seed, **options)``; keys ``preset``
                 (e.g. ``vox1``), ``seed`` (data seed, fixed across training seeds), ``options``.
``bundle``       a saved bundle folder ``path`` (``manifest.parquet`` + ``face/`` + ``voice/`` stores),
                 optionally another ``manifest`` file over the same stores.
``feature_csv``  FOP-style feature CSVs by path (see :mod:`facevoice.interop.feature_csv`).

``train_languages`` (any source with a ``language`` column): keep only the training and validation
items in these languages, the MAV-Celeb protocol (train on one language; the test identities' items
of every language stay, so the protocols get ``<split>:heard`` / ``<split>:unheard`` subsets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facevoice.core.hashing import array_sha256
from facevoice.data.bundle import EmbeddingBundle
from facevoice.interop.feature_csv import load_feature_csv_bundle
from facevoice.simceleb.simulate import simulate

SOURCES = ("simulated", "bundle", "feature_csv")


def load_data(section: Mapping[str, Any]) -> tuple[EmbeddingBundle, Any]:
    """Return ``(bundle, oracle)``; ``oracle`` is the simulator's oracle for simulated data, else None."""
    bundle, oracle = _load_source(section)
    languages = (section or {}).get("train_languages")
    if languages:
        bundle = train_on_languages(bundle, [languages] if isinstance(languages, str) else list(languages))
    return bundle, oracle


def train_on_languages(bundle: EmbeddingBundle, languages: list[str], splits=("train", "val")) -> EmbeddingBundle:
    """The bundle without the ``splits`` items whose language is not one of ``languages``."""
    m = bundle.manifest
    if "language" not in m:
        raise ValueError("data.train_languages needs a manifest with a language column")
    unknown = sorted(set(languages) - set(m["language"]))
    if unknown:
        raise ValueError(f"data.train_languages {unknown} not in the manifest's languages {sorted(set(m['language']))}")
    keep = ~m["split"].isin(splits) | m["language"].isin(languages)
    emb = {}
    for mod, X in bundle.embeddings.items():
        emb[mod] = X[keep[m["modality"] == mod].to_numpy()]
    return EmbeddingBundle(m[keep].reset_index(drop=True), emb, dict(bundle.tags), dict(bundle.meta))


def _load_source(section: Mapping[str, Any]) -> tuple[EmbeddingBundle, Any]:
    section = dict(section or {})
    source = section.get("source")
    if source not in SOURCES:
        raise ValueError(f"data.source must be one of {list(SOURCES)}, got {source!r}")
    if source == "simulated":
        sim = simulate(
            str(section.get("preset", "vox1")), seed=int(section.get("seed", 0)), **section.get("options", {})
        )
        return sim.bundle, getattr(sim, "oracle", None)
    if source == "bundle":
        if not section.get("path"):
            raise ValueError("data.source=bundle needs data.path (a bundle folder)")
        path = Path(section["path"])
        if path.is_file():
            raise NotADirectoryError(
                f"{path}: is a file; a bundle is a folder (manifest.parquet + face/ + voice/ stores) made by the "
                "bundle step from a manifest and its embedding stores (docs/real-data.md)"
            )
        if not path.is_dir():
            raise FileNotFoundError(f"bundle folder not found: {path}")
        if section.get("manifest") is None and not (path / "manifest.parquet").is_file():
            raise FileNotFoundError(
                f"{path}: not a bundle folder (no manifest.parquet); make one from a manifest and its embedding "
                "stores with the bundle step (docs/real-data.md)"
            )
        return EmbeddingBundle.load(path, manifest=section.get("manifest")), None

    return load_feature_csv_bundle(section), None


def bundle_fingerprint(bundle: EmbeddingBundle) -> dict[str, Any]:
    """Hashes identifying the data of a run: manifest (CSV bytes) and each embedding matrix."""

    manifest_hash = hashlib.sha256(bundle.manifest.to_csv(index=False).encode()).hexdigest()
    return {
        "manifest_sha256": manifest_hash,
        "embeddings_sha256": {m: array_sha256(X) for m, X in sorted(bundle.embeddings.items())},
        "encoder_tags": dict(bundle.tags),
        "n_items": {m: int(X.shape[0]) for m, X in sorted(bundle.embeddings.items())},
        "dims": {m: int(X.shape[1]) for m, X in sorted(bundle.embeddings.items())},
    }


def split_bundle(bundle: EmbeddingBundle, splits: tuple[str, ...]) -> EmbeddingBundle:
    """The sub-bundle of ``splits`` (what a non-trainable method may fit on)."""
    keep = bundle.manifest["split"].isin(splits)
    emb = {}
    for m, X in bundle.embeddings.items():
        rows = bundle.manifest.loc[bundle.manifest["modality"] == m, "split"].isin(splits).to_numpy()
        emb[m] = X[rows]
    return EmbeddingBundle(bundle.manifest[keep].reset_index(drop=True), emb, dict(bundle.tags), dict(bundle.meta))
