"""Readers for the VoxCeleb1 identity list and the "Seeking the Shape of Sound" (SSoS) protocol files.

``vox1_meta.csv``
    Tab-separated, header ``VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, Set``; one row per
    VoxCeleb1 identity (1,251). The same person appears under the VoxCeleb1 id in audio paths and
    under the VGGFace1 name in face paths.
SSoS ``vox1_{train,val,test}.csv``
    Comma-separated, header ``VoxCeleb1_ID, VGGFace1_ID, Gender, Nationality, Set``. Rows with
    ``Set == "none"`` (26 identities, mostly names with dots) are listed but not used by SSoS:
    without them the split is the published 924 / 112 / 189 identities. They are dropped by
    default (``include_unmatched=True`` keeps them).
SSoS ``verify[_g]_v2f_test.txt``
    One trial per line, ``<voice wav> <face jpg>`` (``idXXXXX/<video>/<n>.wav`` and
    ``<VGGFace1 name>/<n>.jpg``). Each voice probe occupies 3 consecutive lines; every line is an
    independent trial whose label comes from the identities (VoxCeleb1 id of the voice vs the
    id that vox1_meta maps the face name to), so a probe has 0 to 3 positives (about half of all
    lines are positives, at any of the 3 positions). In ``_g_`` files every negative face has the
    voice's gender (constraint ``G``); the other file's negatives are unconstrained (``random``).

All readers return normalised column names and raise :class:`FormatError` naming file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.data.formats.fop import FormatError, require_file

__all__ = ["read_vox1_meta", "read_ssos_split", "read_ssos_splits", "read_ssos_trials", "META_COLUMNS"]

META_COLUMNS: tuple[str, ...] = ("voxceleb1_id", "vggface1_id", "gender", "nationality", "set")
SSOS_SPLITS: tuple[str, ...] = ("train", "val", "test")


def _read_identity_table(path: Path) -> pd.DataFrame:
    with open(path) as fh:
        header = fh.readline()
    if not header.strip():
        raise FormatError(f"{path}: empty file (expected a header line {', '.join(META_COLUMNS)})")
    sep = "\t" if "\t" in header else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, engine="c")
    except pd.errors.ParserError as exc:
        raise FormatError(f"{path}: ragged rows ({exc})") from exc
    df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
    missing = [c for c in META_COLUMNS if c not in df.columns]
    if missing:
        raise FormatError(f"{path} line 1: missing column(s) {missing}; header has {list(df.columns)}")
    df = df[list(META_COLUMNS)].apply(lambda s: s.str.strip())
    for col in ("voxceleb1_id", "vggface1_id"):
        empty = (df[col] == "").to_numpy()
        if empty.any():
            raise FormatError(f"{path} line {int(np.argmax(empty)) + 2}: empty {col}")
        dup = df[col].duplicated().to_numpy()
        if dup.any():
            i = int(np.argmax(dup))
            raise FormatError(f"{path} line {i + 2}: duplicate {col} {df[col].iloc[i]!r}")
    return df.reset_index(drop=True)


def read_vox1_meta(path: str | Path) -> pd.DataFrame:
    """Read ``vox1_meta.csv`` (tab-separated; comma-separated copies are accepted too).

    Returns:
        DataFrame ``(1251, 5)`` for the real file, columns ``voxceleb1_id, vggface1_id, gender,
        nationality, set`` (all str).
    """
    return _read_identity_table(require_file(path))


def read_ssos_split(path: str | Path, split: str | None = None, *, include_unmatched: bool = False) -> pd.DataFrame:
    """Read one SSoS split file ``vox1_<split>.csv``.

    Args:
        split: split name; default taken from the file name (``vox1_train.csv`` -> ``train``).
        include_unmatched: keep the ``Set == "none"`` rows that SSoS does not use.

    Returns:
        DataFrame with :data:`META_COLUMNS` plus ``split``.
    """
    path = require_file(path)
    if split is None:
        stem = path.stem
        split = stem.split("_", 1)[1] if stem.startswith("vox1_") else stem
    df = _read_identity_table(path)
    if not include_unmatched:
        df = df[df["set"] != "none"].reset_index(drop=True)
    df["split"] = split
    return df


def read_ssos_splits(folder: str | Path, *, include_unmatched: bool = False) -> pd.DataFrame:
    """Read ``vox1_{train,val,test}.csv`` from ``folder`` and check the splits share no identity.

    Returns:
        DataFrame with :data:`META_COLUMNS` plus ``split`` (924 / 112 / 189 rows on the real files).
    """
    folder = Path(folder)
    parts = [read_ssos_split(folder / f"vox1_{s}.csv", s, include_unmatched=include_unmatched) for s in SSOS_SPLITS]
    df = pd.concat(parts, ignore_index=True)
    for col in ("voxceleb1_id", "vggface1_id"):
        dup = df[col].duplicated(keep=False)
        if dup.any():
            shared = df.loc[dup].groupby(col)["split"].agg(lambda s: "/".join(sorted(set(s))))
            raise FormatError(
                f"{folder}: {shared.size} identities appear in more than one split, e.g. {shared.head(3).to_dict()}"
            )
    return df


def read_ssos_trials(path: str | Path, meta: pd.DataFrame, *, constraint: str | None = None) -> pd.DataFrame:
    """Read an SSoS voice-to-face verification list and label it from the identities.

    Args:
        path: ``verify_v2f_test.txt`` or ``verify_g_v2f_test.txt`` (``<voice wav> <face jpg>`` per line).
        meta: identity table with ``voxceleb1_id`` and ``vggface1_id`` (:func:`read_vox1_meta` or
            :func:`read_ssos_splits`), used to map face names to VoxCeleb1 ids.
        constraint: recorded constraint; default ``"G"`` when the file name contains ``_g_``, else ``"random"``.

    Returns:
        DataFrame ``(T, 9)``: ``probe_id`` (voice path), ``candidate_id`` (face path), ``label`` (int8,
        1 = same identity), ``direction`` (``v2f``), ``constraint``, ``split`` (``test``),
        ``probe_identity``, ``candidate_identity`` (VoxCeleb1 ids) and ``probe_group`` (0-based index of
        the run of consecutive lines sharing a voice probe).
    """
    path = require_file(path)
    for col in ("voxceleb1_id", "vggface1_id"):
        if col not in meta.columns:
            raise ValueError(f"meta needs column {col!r} (read it with read_vox1_meta); has {list(meta.columns)}")
    name_to_id = dict(zip(meta["vggface1_id"], meta["voxceleb1_id"], strict=True))
    known_ids = set(meta["voxceleb1_id"])
    if constraint is None:
        constraint = "G" if "_g_" in path.name else "random"
    voices, faces, v_ids, f_ids = [], [], [], []
    with open(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise FormatError(f"{path} line {line_no}: expected '<voice wav> <face jpg>', got {len(fields)} fields")
            voice, face = fields
            vid, fname = voice.split("/", 1)[0], face.split("/", 1)[0]
            if "/" not in voice or vid not in known_ids:
                raise FormatError(f"{path} line {line_no}: voice {voice!r} does not start with a known VoxCeleb1 id")
            if "/" not in face or fname not in name_to_id:
                raise FormatError(f"{path} line {line_no}: face {face!r} does not start with a known VGGFace1 name")
            voices.append(voice)
            faces.append(face)
            v_ids.append(vid)
            f_ids.append(name_to_id[fname])
    if not voices:
        raise FormatError(f"{path}: no trials")
    v = np.asarray(voices)
    group = np.concatenate([[0], np.cumsum(v[1:] != v[:-1])])
    return pd.DataFrame(
        {
            "probe_id": voices,
            "candidate_id": faces,
            "label": (np.asarray(v_ids) == np.asarray(f_ids)).astype(np.int8),
            "direction": "v2f",
            "constraint": constraint,
            "split": "test",
            "probe_identity": v_ids,
            "candidate_identity": f_ids,
            "probe_group": group,
        }
    )
