"""Generic folder layout → manifest, and the split helpers the corpus preparers share.

Layout::

    <root>/<identity>/faces/...   images or videos (any depth; a sub-folder is taken as the video id)
    <root>/<identity>/voices/...  audio or videos

``face``/``images`` and ``voice``/``audio`` are accepted as folder names too. Every regular,
non-hidden file is listed, whatever its extension: files that turn out not to be media are recorded
as skips by ``extract`` rather than dropped here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.data.splits import hold_out_videos, split_identities

log = logging.getLogger(__name__)

FACE_DIRS = ("faces", "face", "images")
VOICE_DIRS = ("voices", "voice", "audio")


def list_files(root: Path) -> list[Path]:
    """Regular, non-hidden files under ``root`` (sorted); unreadable folders raise naming the folder."""
    errors: list[OSError] = []
    out = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                out.append(Path(dirpath) / name)
    if errors:
        raise PermissionError(f"cannot list {len(errors)} folder(s) under {root}, e.g. {errors[0]}")
    return sorted(out)


def _modality_dirs(identity_dir: Path) -> dict[str, Path]:
    out = {}
    for modality, names in (("face", FACE_DIRS), ("voice", VOICE_DIRS)):
        for name in names:
            if (identity_dir / name).is_dir():
                out[modality] = identity_dir / name
                break
    return out


def prepare_folder(
    root: str | Path,
    out: str | Path | None = None,
    *,
    ratios: Sequence[float] | None = (0.7, 0.1, 0.2),
    split: str | None = None,
    seen_fraction: float = 0.0,
    meta: str | Path | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Scan ``<root>/<identity>/{faces,voices}/...`` → validated manifest (written to ``out`` if given).

    Splits: ``split="test"`` (or any split name) puts every item there; otherwise identities are split
    by ``ratios`` (train/val/test_unseen) and ``seen_fraction`` of each train identity's videos go to
    ``test_seen``. ``meta``: optional CSV with an ``identity`` column and any of ``gender``,
    ``nationality``, ``age_band``, ``language``.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    records, ignored = [], []
    for identity_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        dirs = _modality_dirs(identity_dir)
        if not dirs:
            ignored.append(identity_dir.name)
            continue
        for modality, mdir in dirs.items():
            for f in list_files(mdir):
                rel = f.relative_to(mdir)
                video = rel.parts[0] if len(rel.parts) > 1 else ""
                item_id = f"{modality}:{identity_dir.name}/{rel.as_posix()}"
                records.append(
                    {
                        "item_id": item_id,
                        "identity": identity_dir.name,
                        "modality": modality,
                        "path": str(f),
                        "video": video,
                    }
                )
    if ignored:
        log.warning("%d folder(s) under %s have no faces/ or voices/ sub-folder: %s", len(ignored), root, ignored[:5])
    if not records:
        raise ValueError(f"no media files found under {root}/<identity>/{{faces,voices}}/")
    df = pd.DataFrame(records)
    if split is not None:
        df["split"] = split
    else:
        if ratios is None:
            raise ValueError("give either split= or ratios=")
        assign = split_identities(df["identity"], ratios, seed)
        df["split"] = df["identity"].map(assign)
        df = hold_out_videos(df, seen_fraction, seed)
    if meta is not None:
        df = attach_meta(df, meta)
    df = make_manifest(df)
    if out is not None:
        write_manifest(df, out)
    return df


def attach_meta(df: pd.DataFrame, meta: str | Path) -> pd.DataFrame:
    """Join per-identity columns from a CSV (``identity`` + optional gender/nationality/age_band/language)."""
    table = pd.read_csv(meta, dtype=str, keep_default_na=False, sep=None, engine="python")
    if "identity" not in table.columns:
        raise ValueError(f"{meta}: needs an 'identity' column, has {list(table.columns)}")
    if table["identity"].duplicated().any():
        raise ValueError(
            f"{meta}: identity listed twice, e.g. {table.loc[table['identity'].duplicated(), 'identity'].iloc[0]}"
        )
    cols = [c for c in ("gender", "nationality", "age_band", "language") if c in table.columns]
    df = df.drop(columns=[c for c in cols if c in df.columns]).merge(
        table[["identity", *cols]], on="identity", how="left"
    )
    return df.fillna("")
