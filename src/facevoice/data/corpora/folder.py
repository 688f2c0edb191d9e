"""Generic folder layout → manifest, and the split helpers the corpus preparers share.

Layout::

    <root>/<identity>/faces/...   images or videos (any depth; a sub-folder is taken as the video id)
    <root>/<identity>/voices/...  audio or videos

``face``/``images`` and ``voice``/``audio`` are accepted as folder names too. Every regular,
non-hidden file is listed, whatever its extension: files that turn out not to be media are recorded
as skips by ``extract`` rather than dropped here.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from facevoice.data.manifest import make_manifest, write_manifest

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


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def split_identities(
    identities: Iterable[str], ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
) -> dict[str, str]:
    """Identity-disjoint ``train``/``val``/``test_unseen`` assignment from ``ratios`` (normalised).

    Deterministic given ``seed`` (order by a hash of the identity), and each non-zero part gets at
    least one identity when there are enough identities.
    """
    ids = sorted(set(identities), key=lambda i: _rank(i, seed))
    if len(ratios) != 3 or min(ratios) < 0 or sum(ratios) <= 0:
        raise ValueError(f"ratios must be three non-negative numbers (train, val, test), got {ratios}")
    total = float(sum(ratios))
    n = len(ids)
    n_val = round(n * ratios[1] / total)
    n_test = round(n * ratios[2] / total)
    if n >= 3:
        n_val = max(n_val, 1 if ratios[1] > 0 else 0)
        n_test = max(n_test, 1 if ratios[2] > 0 else 0)
    n_train = n - n_val - n_test
    if n_train < 1 and ratios[0] > 0:
        raise ValueError(f"{n} identities are too few for ratios {tuple(ratios)}")
    out = dict.fromkeys(ids[:n_train], "train")
    out.update(dict.fromkeys(ids[n_train : n_train + n_val], "val"))
    out.update(dict.fromkeys(ids[n_train + n_val :], "test_unseen"))
    return out


def hold_out_videos(df: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """Move about ``fraction`` of each train identity's videos (all their items, both modalities) to
    ``test_seen`` (seen-heard: same identities, disjoint videos). Items without a video id stay."""
    if fraction <= 0:
        return df
    df = df.copy()
    train = df[(df["split"] == "train") & (df["video"] != "")]
    for _, grp in train.groupby("identity"):
        videos = sorted(grp["video"].unique(), key=lambda v: _rank(v, seed))
        if len(videos) < 2:
            continue
        k = min(len(videos) - 1, max(1, round(len(videos) * fraction)))
        held = set(videos[:k])
        df.loc[grp.index[grp["video"].isin(held)], "split"] = "test_seen"
    return df


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
