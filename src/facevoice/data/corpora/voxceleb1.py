"""VoxCeleb1 (voices) + face frames or VGGFace1 images → manifest, joined through ``vox1_meta.csv``.

* voices: ``<voice_root>/<VoxCeleb1 ID>/<video id>/<clip>.wav`` (the official wav tree);
* faces: either VoxCeleb1 face frames ``<face_root>/<name or ID>/[1.6/]<video id>/<frame>.jpg`` or
  VGGFace1 images ``<face_root>/<VGGFace1 name>/<image>.jpg`` (no video id).

Identity = the VoxCeleb1 ID in both modalities; gender and nationality come from the meta file.
Splits (``split=``):

* ``"meta"``: the meta file's ``Set`` column: ``dev`` identities → train (``val_fraction`` of them →
  val), ``test`` → test_unseen (unseen-unheard); ``seen_fraction`` of each train identity's videos →
  test_seen (seen-heard, disjoint videos);
* ``"ssos"``: the train/val/test identity lists of "Seeking the Shape of Sound"
  (``protocol_dir/vox1_{train,val,test}.csv``) → train / val / test_unseen;
* ``"ratios"``: a seeded identity split with ``ratios``, stratified by gender.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from facevoice.data.corpora.folder import write_prepare_skips
from facevoice.data.corpora.scan import printable, scan_tree
from facevoice.data.formats.vox import read_vox1_meta as read_meta_table
from facevoice.data.manifest import check_output_path, make_manifest, write_manifest
from facevoice.data.splits import hold_out_videos, split_identities, stratified_split_identities

log = logging.getLogger(__name__)


def read_vox1_meta(path: str | Path) -> pd.DataFrame:
    """``vox1_meta.csv`` through :func:`facevoice.data.formats.vox.read_vox1_meta`, with the short column
    names the preparer joins on: ``vox_id, vgg_name, gender, nationality, set``."""
    return read_meta_table(path).rename(columns={"voxceleb1_id": "vox_id", "vggface1_id": "vgg_name"})


def _voice_records(voice_root: Path, known: set[str], skipped: list[dict]) -> tuple[list[dict], set[str]]:
    records, unknown = [], set()
    scan = scan_tree(voice_root)
    skipped += scan.skipped
    for f in scan.files:
        rel = f.relative_to(voice_root)
        if len(rel.parts) < 2:
            skipped.append(_skip(f, "outside_layout", "not under <VoxCeleb1 ID>/ of the voice root"))
            continue
        vox_id = rel.parts[0]
        if vox_id not in known:
            unknown.add(vox_id)
            skipped.append(_skip(f, "no_meta", f"{vox_id!r} is not a VoxCeleb1 ID of the meta file"))
            continue
        video = rel.parts[1] if len(rel.parts) > 2 else ""
        records.append(
            {
                "item_id": f"voice:{rel.as_posix()}",
                "identity": vox_id,
                "modality": "voice",
                "path": str(f),
                "video": video,
            }
        )
    return records, unknown


def _face_records(
    face_root: Path, name_to_id: dict[str, str], known: set[str], skipped: list[dict]
) -> tuple[list[dict], set[str]]:
    records, unknown = [], set()
    scan = scan_tree(face_root)
    skipped += scan.skipped
    for f in scan.files:
        rel = f.relative_to(face_root)
        if len(rel.parts) < 2:
            skipped.append(_skip(f, "outside_layout", "not under <name or VoxCeleb1 ID>/ of the face root"))
            continue
        top = rel.parts[0]
        vox_id = top if top in known else name_to_id.get(top)
        if vox_id is None:
            unknown.add(top)
            skipped.append(
                _skip(f, "no_meta", f"{top!r} is neither a VGGFace1 name nor a VoxCeleb1 ID of the meta file")
            )
            continue
        inner = [p for p in rel.parts[1:-1] if p != "1.6"]  # unzippedFaces/<name>/1.6/<video>/<frame>
        video = inner[-1] if inner else ""
        records.append(
            {
                "item_id": f"face:{rel.as_posix()}",
                "identity": vox_id,
                "modality": "face",
                "path": str(f),
                "video": video,
            }
        )
    return records, unknown


def _skip(path: Path, reason: str, detail: str) -> dict[str, str]:
    return {"path": printable(path), "reason": reason, "detail": detail}


def _read_id_list(path: Path) -> set[str]:
    if not path.is_file():
        raise FileNotFoundError(f"split list not found: {path}")
    table = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    return set(table.iloc[:, 0].str.strip())


def prepare_voxceleb1(
    voice_root: str | Path,
    face_root: str | Path,
    meta: str | Path,
    out: str | Path | None = None,
    *,
    split: str = "meta",
    protocol_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    seen_fraction: float = 0.0,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> pd.DataFrame:
    """Build the VoxCeleb1 face–voice manifest (see the module docstring); write it to ``out`` if given.

    Identities present in only one modality are kept (they still count for unimodal work); folders
    that match no meta row are reported in a warning; with ``split="ssos"`` identities outside the
    three lists are left out and counted in a warning. Files left out are recorded in the prepare
    skip report beside ``out`` (``df.attrs["skipped"]``).
    """
    voice_root, face_root = Path(voice_root).expanduser().absolute(), Path(face_root).expanduser().absolute()
    if out is not None:
        check_output_path(out)
    for p in (voice_root, face_root):
        if not p.is_dir():
            raise FileNotFoundError(f"folder not found: {p}")
    table = read_vox1_meta(meta)
    known = set(table["vox_id"])
    name_to_id = dict(zip(table["vgg_name"], table["vox_id"], strict=True))
    skipped: list[dict] = []
    voices, unknown_v = _voice_records(voice_root, known, skipped)
    faces, unknown_f = _face_records(face_root, name_to_id, known, skipped)
    for what, unknown in (("voice", unknown_v), ("face", unknown_f)):
        if unknown:
            log.warning("%d %s folder(s) match no row of %s, e.g. %s", len(unknown), what, meta, sorted(unknown)[:5])
    if not voices and not faces:
        raise ValueError(f"no VoxCeleb1 media found under {voice_root} / {face_root}")
    df = pd.DataFrame(voices + faces)
    info = table.set_index("vox_id")
    df["gender"] = df["identity"].map(info["gender"])
    df["nationality"] = df["identity"].map(info["nationality"])
    df["split"] = _assign_splits(df, info, split, protocol_dir, val_fraction, ratios, seed)
    dropped = df["split"].isna()
    if dropped.any():
        log.warning(
            "%d item(s) of %d identities are outside the %s split lists",
            int(dropped.sum()),
            df.loc[dropped, "identity"].nunique(),
            split,
        )
        skipped += [
            _skip(Path(p), "no_split", f"identity {i} is outside the {split} split lists")
            for p, i in zip(df.loc[dropped, "path"], df.loc[dropped, "identity"], strict=True)
        ]
        df = df[~dropped]
    df = hold_out_videos(df.reset_index(drop=True), seen_fraction, seed)
    df = make_manifest(df)
    df.attrs["skipped"] = skipped
    if out is not None:
        write_manifest(df, out)
        write_prepare_skips(out, skipped)
    return df


def _assign_splits(
    df: pd.DataFrame,
    info: pd.DataFrame,
    split: str,
    protocol_dir: str | Path | None,
    val_fraction: float,
    ratios: Sequence[float],
    seed: int,
) -> pd.Series:
    ids = df["identity"]
    if split == "meta":
        sets = ids.map(info["set"]).str.lower()
        dev = sorted(set(ids[sets == "dev"]))
        assign = split_identities(dev, (1.0 - val_fraction, val_fraction, 0.0), seed) if dev else {}
        assign.update(dict.fromkeys(set(ids[sets == "test"]), "test_unseen"))
        return ids.map(assign)
    if split == "ssos":
        if protocol_dir is None:
            raise ValueError("split='ssos' needs protocol_dir (with vox1_train.csv, vox1_val.csv, vox1_test.csv)")
        pdir = Path(protocol_dir)
        assign = {}
        for name, target in (("train", "train"), ("val", "val"), ("test", "test_unseen")):
            assign.update(dict.fromkeys(_read_id_list(pdir / f"vox1_{name}.csv"), target))
        return ids.map(assign)
    if split == "ratios":  # stratified by the meta file's gender, so every part holds women and men in proportion
        strata = dict(zip(info.index, info["gender"].astype(str), strict=True))
        return ids.map(stratified_split_identities(ids, strata, ratios, seed))
    raise ValueError(f"unknown VoxCeleb1 split {split!r}; valid: meta, ssos, ratios")
