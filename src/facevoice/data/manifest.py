"""Manifest: the one table every stage downstream of ``prepare`` reads.

One row per media item (a face image / frame set, or a voice utterance). Columns:

=============  =====================================================================
item_id        unique string id
identity       person id (string); the same person has the same id in both modalities
modality       ``"face"`` or ``"voice"``
path           media file path (may be empty for feature-only items)
feature_ref    reference to a precomputed feature (e.g. ``"file.csv#row"``), may be empty
video          video / session id (seen-heard split keeps train and test videos disjoint)
split          ``train``, ``val``, ``test_seen`` (seen-heard), ``test_unseen`` (unseen-unheard), ``test``
gender         e.g. ``m`` / ``f`` (optional)
nationality    free text (optional)
age_band       e.g. ``20-29`` (optional)
language       spoken language of a voice item, or of the video (optional)
=============  =====================================================================

Validation checks the invariants that evaluation relies on, instead of assuming them:
unique ids, known modalities and splits, no identity shared between training (train/val
identities of the model) and unseen test identities, no video shared between train and seen test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "item_id",
    "identity",
    "modality",
    "path",
    "feature_ref",
    "video",
    "split",
    "gender",
    "nationality",
    "age_band",
    "language",
)
REQUIRED: tuple[str, ...] = ("item_id", "identity", "modality", "split")
MODALITIES: tuple[str, ...] = ("face", "voice")
SPLITS: tuple[str, ...] = ("train", "val", "test_seen", "test_unseen", "test")
TRAIN_SPLITS: tuple[str, ...] = ("train",)


class ManifestError(ValueError):
    """A manifest violates the schema or one of the split invariants."""


def make_manifest(records: Iterable[Mapping[str, Any]] | pd.DataFrame, *, validate: bool = True) -> pd.DataFrame:
    """Build a manifest DataFrame with every schema column (missing optional ones filled with "")."""
    df = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ManifestError(f"manifest is missing required column(s) {missing}; has {list(df.columns)}")
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = ""
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[list(COLUMNS) + extra]
    for col in COLUMNS:
        df[col] = df[col].fillna("").astype(str)
    df = df.reset_index(drop=True)
    return validate_manifest(df) if validate else df


def validate_manifest(df: pd.DataFrame, *, source: str | Path | None = None) -> pd.DataFrame:
    """Check schema and split invariants; return ``df`` unchanged or raise :class:`ManifestError`.

    ``source`` (a file name) is quoted in error messages.
    """
    where = f"{source}: " if source else ""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ManifestError(f"{where}missing required column(s) {missing}")
    if len(df) == 0:
        raise ManifestError(f"{where}manifest is empty")
    for col in REQUIRED:
        empty = df[col].astype(str).str.len() == 0
        if empty.any():
            raise ManifestError(f"{where}{int(empty.sum())} row(s) with empty {col!r}, e.g. row {int(empty.idxmax())}")
    dup = df["item_id"].duplicated(keep=False)
    if dup.any():
        examples = sorted(df.loc[dup, "item_id"].unique())[:5]
        raise ManifestError(f"{where}{int(dup.sum())} rows share an item_id, e.g. {examples}")
    bad_mod = ~df["modality"].isin(MODALITIES)
    if bad_mod.any():
        raise ManifestError(
            f"{where}unknown modality {sorted(df.loc[bad_mod, 'modality'].unique())[:5]}; valid: {list(MODALITIES)}"
        )
    bad_split = ~df["split"].isin(SPLITS)
    if bad_split.any():
        raise ManifestError(
            f"{where}unknown split {sorted(df.loc[bad_split, 'split'].unique())[:5]}; valid: {list(SPLITS)}"
        )
    _check_disjoint(df, "identity", ("train", "val"), ("test_unseen",), where)
    _check_disjoint(df, "identity", ("train",), ("val",), where)
    if "video" in df.columns:
        has_video = df["video"].astype(str).str.len() > 0
        _check_disjoint(df[has_video], "video", ("train",), ("test_seen",), where, per_identity=True)
    return df


def _check_disjoint(
    df: pd.DataFrame, key: str, left: tuple[str, ...], right: tuple[str, ...], where: str, per_identity: bool = False
) -> None:
    a = df[df["split"].isin(left)]
    b = df[df["split"].isin(right)]
    if len(a) == 0 or len(b) == 0:
        return
    if per_identity:  # video ids are only unique within an identity in most corpora
        ka = set(zip(a["identity"], a[key], strict=True))
        kb = set(zip(b["identity"], b[key], strict=True))
    else:
        ka, kb = set(a[key]), set(b[key])
    shared = ka & kb
    if shared:
        raise ManifestError(
            f"{where}{len(shared)} {key}(s) appear in both {'/'.join(left)} and {'/'.join(right)}, "
            f"e.g. {sorted(map(str, shared))[:5]}"
        )


def read_manifest(path: str | Path, *, validate: bool = True) -> pd.DataFrame:
    """Read a manifest from parquet (or CSV/TSV by extension) and validate it.

    A folder holding ``manifest.parquet`` (a bundle, ``prepare features`` output) stands for that file;
    any other folder is refused naming it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest not found: {path}")
    if path.is_dir():
        if (path / "manifest.parquet").is_file():
            path = path / "manifest.parquet"
        else:
            raise ManifestError(f"{path}: is a folder, not a manifest file (and holds no manifest.parquet)")
    try:
        if path.suffix in {".csv", ".tsv"}:
            df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        else:
            df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow / pandas raise many types for corrupt files
        raise ManifestError(f"{path}: cannot read manifest ({type(exc).__name__}: {exc})") from exc
    try:
        return make_manifest(df, validate=validate)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def check_output_path(path: str | Path) -> Path:
    """Refuse an output file path that names a folder (before any work is done); return it as a Path."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path}: is a folder; give a file name for the manifest, e.g. {path / 'manifest.parquet'}"
        )
    return path


def write_manifest(df: pd.DataFrame, path: str | Path, *, validate: bool = True) -> Path:
    """Validate and write a manifest to parquet (atomically: tmp file + rename; the tmp file never stays)."""
    path = check_output_path(path)
    df = make_manifest(df, validate=validate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        if path.suffix in {".csv", ".tsv"}:
            df.to_csv(tmp, sep="\t" if path.suffix == ".tsv" else ",", index=False)
        else:
            df.to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Counts of items and identities per split and modality, as a small table.

    With a ``gender`` column, a ``gender`` column of identity counts per value (e.g. ``2 f / 3 m``)."""
    g = df.groupby(["split", "modality"])
    out = pd.DataFrame({"items": g.size(), "identities": g["identity"].nunique()}).reset_index()
    if "gender" in df.columns and (df["gender"].astype(str) != "").any():
        cells = []
        for split, modality in zip(out["split"], out["modality"], strict=True):
            sub = df[(df["split"] == split) & (df["modality"] == modality)].drop_duplicates("identity")
            counts = sub["gender"].replace("", "?").value_counts().sort_index()
            cells.append(" / ".join(f"{n} {v}" for v, n in counts.items()))
        out["gender"] = cells
    return out
