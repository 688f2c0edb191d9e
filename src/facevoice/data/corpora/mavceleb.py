"""MAV-Celeb v1 / v2 / v3 (FAME challenge) → manifest.

Training tree (all versions)::

    <root>/faces/<identity>/<language>/<video id>/<frame>.jpg
    <root>/voices/<identity>/<language>/<video id>/<clip>.wav

v1 = English–Urdu (70 identities), v2 = English–Hindi (84), v3 = English–German (58). The
``language`` column carries the spoken language, so "train on one language, test on the heard and
the unheard one" is a selection on that column.

Splits: without split files, identities are split (seeded) into train / val / test_unseen, so test
identities are disjoint from training ones as in FAME. With the official split folder
(``<Language>_train.txt`` / ``<Language>_test.txt``), items listed in a train file are ``train`` and
the test trial files (``<trial id> voices/<Lang>/<n>.wav faces/<Lang>/<n>.jpg``, labels withheld) add
their media from ``test_root`` as ``test`` items with identity ``unlabelled``; the trial → item map is
written beside the manifest as ``<manifest stem>.trials.csv``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from facevoice.data.corpora.folder import list_files
from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.data.splits import split_identities

log = logging.getLogger(__name__)

LANGUAGES = {"v1": ("English", "Urdu"), "v2": ("English", "Hindi"), "v3": ("English", "German")}
_MODALITY_DIRS = {"faces": "face", "voices": "voice"}
_MEDIA = re.compile(r"\.(wav|flac|m4a|mp3|mp4|jpe?g|png|bmp)$", re.IGNORECASE)


def _tree_records(root: Path, languages: Sequence[str]) -> list[dict]:
    langs = {lang.lower(): lang for lang in languages}
    records = []
    for dirname, modality in _MODALITY_DIRS.items():
        mdir = root / dirname
        if not mdir.is_dir():
            continue
        for f in list_files(mdir):
            rel = f.relative_to(mdir)
            lang_pos = next((i for i, p in enumerate(rel.parts[:-1]) if p.lower() in langs), None)
            if lang_pos is None or lang_pos == 0:
                raise ValueError(
                    f"{f}: expected <{dirname}>/<identity>/<language>/..., language one of {list(languages)}"
                )
            inner = rel.parts[lang_pos + 1 : -1]
            records.append(
                {
                    "item_id": f"{modality}:{rel.as_posix()}",
                    "identity": rel.parts[0],
                    "modality": modality,
                    "path": str(f),
                    "language": langs[rel.parts[lang_pos].lower()],
                    "video": inner[0] if inner else "",
                    "rel": f"{dirname}/{rel.as_posix()}",
                }
            )
    return records


def _split_file_lines(path: Path) -> list[tuple[str, list[str]]]:
    """Lines of a split file → ``(trial id or "", [media paths])``."""
    out = []
    for line in path.read_text().splitlines():
        tokens = line.split()
        if not tokens:
            continue
        paths = [t for t in tokens if _MEDIA.search(t)]
        if not paths:
            raise ValueError(f"{path}: line without a media path: {line!r}")
        trial = tokens[0] if not _MEDIA.search(tokens[0]) else ""
        out.append((trial, paths))
    return out


def prepare_mavceleb(
    root: str | Path,
    version: str,
    out: str | Path | None = None,
    *,
    splits_dir: str | Path | None = None,
    test_root: str | Path | None = None,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> pd.DataFrame:
    """Build a MAV-Celeb manifest (see the module docstring); written to ``out`` if given."""
    if version not in LANGUAGES:
        raise ValueError(f"unknown MAV-Celeb version {version!r}; valid: {sorted(LANGUAGES)}")
    root = Path(root).expanduser().resolve()
    if not (root / "faces").is_dir() and not (root / "voices").is_dir():
        raise FileNotFoundError(f"{root}: expected faces/ and voices/ folders")
    records = _tree_records(root, LANGUAGES[version])
    if not records:
        raise ValueError(f"no MAV-Celeb media under {root}")
    df = pd.DataFrame(records)
    trials = []
    if splits_dir is None:
        df["split"] = df["identity"].map(split_identities(df["identity"], ratios, seed))
    else:
        sdir = Path(splits_dir)
        train_files = sorted(sdir.glob("*_train.txt"))
        test_files = sorted(sdir.glob("*_test.txt"))
        if not train_files and not test_files:
            raise FileNotFoundError(f"{sdir}: no <Language>_train.txt / <Language>_test.txt split files")
        listed = {p for f in train_files for _, paths in _split_file_lines(f) for p in paths}
        in_train = df["rel"].isin(listed) | df["rel"].map(lambda r: r.split("/", 1)[1]).isin(listed)
        unlisted = int((~in_train).sum())
        if unlisted:
            log.warning("%d item(s) under %s are in no train split file; they are left out", unlisted, root)
        df = df[in_train].assign(split="train")
        test_records, trials = _test_records(test_files, Path(test_root) if test_root else root, LANGUAGES[version])
        df = pd.concat([df, pd.DataFrame(test_records)], ignore_index=True)
    df = make_manifest(df.drop(columns=["rel"]))
    if out is not None:
        write_manifest(df, out)
        if trials:
            pd.DataFrame(trials).to_csv(Path(out).with_suffix(".trials.csv"), index=False)
    return df


def _test_records(test_files: list[Path], test_root: Path, languages: Sequence[str]) -> tuple[list[dict], list[dict]]:
    records: dict[str, dict] = {}
    trials = []
    for f in test_files:
        lang = f.name.split("_")[0]
        if lang not in languages:
            raise ValueError(f"{f}: language {lang!r} is not one of {list(languages)}")
        for trial, paths in _split_file_lines(f):
            ids = {}
            for p in paths:
                modality = "voice" if p.split("/")[0] == "voices" else "face"
                item_id = f"{modality}:test/{p}"
                ids[modality] = item_id
                records.setdefault(
                    item_id,
                    {
                        "item_id": item_id,
                        "identity": "unlabelled",
                        "modality": modality,
                        "path": str((test_root / p).resolve()),
                        "language": lang,
                        "video": "",
                        "split": "test",
                        "rel": p,
                    },
                )
            if trial:
                trials.append(
                    {"trial_id": trial, "language": lang, "voice": ids.get("voice", ""), "face": ids.get("face", "")}
                )
    return list(records.values()), trials
