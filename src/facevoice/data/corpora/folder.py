"""Generic folder layout → manifest, and the split helpers the corpus preparers share.

Layout::

    <root>/<identity>/faces/...   images or videos (any depth; a sub-folder is taken as the video id)
    <root>/<identity>/voices/...  audio or videos

``face``/``images`` and ``voice``/``audio`` are accepted as folder names too. Every regular,
non-hidden file is listed, whatever its extension: files that turn out not to be media are recorded
as skips by ``extract`` rather than dropped here. Symlinked folders are followed at any depth
(:mod:`facevoice.data.corpora.scan`). Whatever under ``root`` does not become a manifest row (a file
outside ``<identity>/faces|voices``, a name that is not UTF-8, a hidden file, a folder that cannot
be listed, a link loop, the people a given split leaves out) gets a record in the prepare skip
report written beside the manifest (:func:`prepare_skips_path`).

Splits, in order of precedence: ``split=`` (every item in one split), ``split_file=`` (identity →
split table), a ``split`` column of the ``meta`` file, else a seeded identity split by ``ratios``,
stratified by ``stratify`` columns of the meta file (``"auto"``: gender, when the meta has it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from facevoice.data.corpora.scan import item_key, printable, scan_tree
from facevoice.data.manifest import check_output_path, make_manifest, write_manifest
from facevoice.data.splits import (
    hold_out_videos,
    normalise_split_names,
    split_identities,
    stratified_split_identities,
)

log = logging.getLogger(__name__)

FACE_DIRS = ("faces", "face", "images")
VOICE_DIRS = ("voices", "voice", "audio")
DEFAULT_RATIOS = (0.7, 0.1, 0.2)
META_COLUMNS = ("gender", "nationality", "age_band", "language")
SKIP_COLUMNS = ("path", "reason", "detail")
_META_ALIASES = {"id": "identity", "name": "identity", "person": "identity", "sex": "gender", "country": "nationality"}
_GENDER_WORDS = {"male": "m", "man": "m", "m": "m", "female": "f", "woman": "f", "f": "f", "w": "f"}


def list_files(root: Path) -> list[Path]:
    """Regular, non-hidden files under ``root`` (sorted, symlinked folders followed).

    What is not listed (see :func:`~facevoice.data.corpora.scan.scan_tree`) is logged as a warning;
    preparers that write a skip report call ``scan_tree`` themselves.
    """
    scan = scan_tree(root)
    if scan.skipped:
        first = scan.skipped[0]
        log.warning(
            "%d entr%s under %s not listed, e.g. %s (%s)",
            len(scan.skipped),
            "y" if len(scan.skipped) == 1 else "ies",
            printable(root),
            first["path"],
            first["reason"],
        )
    return scan.files


def prepare_skips_path(out: str | Path) -> Path:
    """Where a preparer writing the manifest ``out`` records what it left out: ``<stem>.skipped.csv`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.skipped.csv")


def write_prepare_skips(out: str | Path, records: Sequence[Mapping[str, str]]) -> Path | None:
    """Write (or remove a stale) prepare skip report beside the manifest ``out``; return its path or None."""
    path = prepare_skips_path(out)
    if not records:
        path.unlink(missing_ok=True)
        return None
    df = pd.DataFrame(list(records)).reindex(columns=list(SKIP_COLUMNS)).fillna("")
    tmp = path.with_name(path.name + ".tmp")
    df.sort_values(["reason", "path"]).to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def _modality_of(parts: tuple[str, ...], chosen: dict[tuple[str, str], str]) -> str | None:
    """The modality of ``<identity>/<folder>/...`` when ``folder`` is that identity's face or voice folder."""
    if len(parts) < 3:
        return None
    for modality in ("face", "voice"):
        if chosen.get((parts[0], modality)) == parts[1]:
            return modality
    return None


def _chosen_folders(root: Path, identities: set[str]) -> dict[tuple[str, str], str]:
    """(identity, modality) → the name of the folder read for it (the first of FACE_DIRS / VOICE_DIRS present)."""
    out = {}
    for ident in identities:
        for modality, names in (("face", FACE_DIRS), ("voice", VOICE_DIRS)):
            for name in names:
                if (root / ident / name).is_dir():
                    out[(ident, modality)] = name
                    break
    return out


def scan_folder(root: Path) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """``<root>/<identity>/{faces,voices}/...`` → item records and skip records (everything else under ``root``)."""
    scan = scan_tree(root)
    skipped = list(scan.skipped)
    rel = [f.relative_to(root) for f in scan.files]
    chosen = _chosen_folders(root, {r.parts[0] for r in rel if len(r.parts) >= 3})
    records = []
    for f, r in zip(scan.files, rel, strict=True):
        modality = _modality_of(r.parts, chosen)
        if modality is None:
            names = "/".join(FACE_DIRS + VOICE_DIRS)
            if len(r.parts) < 3:
                where = "directly in the corpus folder" if len(r.parts) == 1 else "directly in an identity folder"
                detail = f"{where}; media go in <identity>/faces/ or <identity>/voices/"
            elif r.parts[1] in FACE_DIRS + VOICE_DIRS:
                modality_name = "face" if r.parts[1] in FACE_DIRS else "voice"
                used = chosen.get((r.parts[0], modality_name))
                detail = f"{r.parts[0]} has two {modality_name} folders; only {used}/ is read"
            else:
                detail = f"folder {r.parts[1]!r} is not one of {names}"
            skipped.append({"path": printable(f), "reason": "outside_layout", "detail": detail})
            continue
        inner = r.parts[2:]
        records.append(
            {
                "item_id": item_key(f"{modality}:{r.parts[0]}/{'/'.join(inner)}"),
                "identity": r.parts[0],
                "modality": modality,
                "path": str(f),
                "video": inner[0] if len(inner) > 1 else "",
            }
        )
    return pd.DataFrame(records, columns=["item_id", "identity", "modality", "path", "video"]), skipped


def prepare_folder(
    root: str | Path,
    out: str | Path | None = None,
    *,
    ratios: Sequence[float] | None = None,
    split: str | None = None,
    split_file: str | Path | None = None,
    stratify: str | Sequence[str] | None = "auto",
    seen_fraction: float = 0.0,
    meta: str | Path | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Scan ``<root>/<identity>/{faces,voices}/...`` → validated manifest (written to ``out`` if given).

    Splits (module docstring): ``split="test"`` (or any split name) puts every item there;
    ``split_file``: a CSV/TSV of ``identity,split`` (``train``, ``val``, ``test``); a ``split`` column
    in ``meta`` does the same; otherwise identities are split by ``ratios`` (train/val/test_unseen,
    default 0.7/0.1/0.2), stratified by the ``stratify`` meta columns (``"auto"`` = gender when the
    meta has one; ``None`` / ``"none"``: no stratification). ``seen_fraction`` of each train identity's
    videos go to ``test_seen``. ``meta``: CSV/TSV with an ``identity`` column and any of ``gender``,
    ``nationality``, ``age_band``, ``language``, ``split``.

    With ``out``, what was left out is written to :func:`prepare_skips_path` (``df.attrs["skipped"]``
    holds the records either way).
    """
    root = Path(root).expanduser().absolute()
    if out is not None:
        check_output_path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {printable(root)}")
    df, skipped = scan_folder(root)
    if df.empty:
        raise ValueError(
            f"no media files found under {printable(root)}/<identity>/{{faces,voices}}/"
            + (
                f" ({len(skipped)} entries not listed, e.g. {skipped[0]['path']}: {skipped[0]['detail']})"
                if skipped
                else ""
            )
        )
    no_media = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in set(df["identity"])
    )
    if no_media:
        log.warning("%d folder(s) under %s have no faces/ or voices/ files: %s", len(no_media), root, no_media[:5])
    table = read_identity_meta(meta) if meta is not None else None
    if table is not None:
        df = attach_meta(df, table, meta)
    df, left_out = assign_splits(
        df, table, meta, ratios=ratios, split=split, split_file=split_file, stratify=stratify, seed=seed
    )
    skipped += left_out
    if split is None:
        df = hold_out_videos(df, seen_fraction, seed)
    df = make_manifest(df)
    df.attrs["skipped"] = skipped
    if skipped:
        reasons = pd.Series([s["reason"] for s in skipped]).value_counts().to_dict()
        log.info(
            "%d entr%s under %s not in the manifest: %s",
            len(skipped),
            "y" if len(skipped) == 1 else "ies",
            root,
            reasons,
        )
    if out is not None:
        write_manifest(df, out)
        write_prepare_skips(out, skipped)
    return df


def read_identity_meta(meta: str | Path) -> pd.DataFrame:
    """A per-identity CSV/TSV (``identity`` + optional attribute and ``split`` columns), checked.

    Column names are matched case-insensitively, with ``id``/``name``/``person`` read as ``identity``,
    ``sex`` as ``gender`` and ``country`` as ``nationality``; gender words are reduced to ``m`` / ``f``
    (``Male``, ``female``, ``W``, ...; other values are kept, lower-cased).
    """
    path = Path(meta)
    if not path.is_file():
        raise FileNotFoundError(f"meta file not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable CSV/TSV ({type(exc).__name__}: {exc})") from exc
    names = [str(c).strip().lower() for c in table.columns]
    table.columns = [_META_ALIASES.get(c, c) for c in names]
    if "identity" not in table.columns:
        raise ValueError(f"{path}: needs an 'identity' column, has {list(table.columns)}")
    table["identity"] = table["identity"].str.strip()
    dup = table["identity"].duplicated()
    if dup.any():
        raise ValueError(f"{path}: identity listed twice, e.g. {table.loc[dup, 'identity'].iloc[0]}")
    if "gender" in table.columns:  # one spelling per value, so matching by gender compares like with like
        raw = table["gender"].str.strip().str.lower()
        table["gender"] = raw.map(_GENDER_WORDS).fillna(raw)
    return table


def attach_meta(df: pd.DataFrame, meta: str | Path | pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """Join per-identity columns (gender/nationality/age_band/language) from a meta table or CSV/TSV path.

    Identities of the corpus that the meta file does not list are named in a warning (their
    attributes stay empty); meta rows matching no folder are counted in another.
    """
    table = read_identity_meta(meta) if not isinstance(meta, pd.DataFrame) else meta
    where = source if source is not None else meta if not isinstance(meta, pd.DataFrame) else "meta"
    cols = [c for c in META_COLUMNS if c in table.columns]
    present = set(df["identity"])
    unlisted = sorted(present - set(table["identity"]))
    if unlisted:
        log.warning("%d identities are not in %s (attributes left empty): %s", len(unlisted), where, unlisted[:5])
    extra = set(table["identity"]) - present
    if extra:
        log.warning("%d identities of %s have no folder in the corpus, e.g. %s", len(extra), where, sorted(extra)[:5])
    df = df.drop(columns=[c for c in cols if c in df.columns]).merge(
        table[["identity", *cols]], on="identity", how="left"
    )
    return df.fillna({c: "" for c in cols})


def _read_split_file(path: str | Path) -> dict[str, str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python", header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable identity,split table ({type(exc).__name__}: {exc})") from exc
    if table.shape[1] < 2:
        raise ValueError(f"{path}: needs two columns, identity and split; found {table.shape[1]}")
    first = [str(x).strip().lower() for x in table.iloc[0, :2]]
    if first == ["identity", "split"]:
        table = table.iloc[1:]
    ids = table.iloc[:, 0].str.strip()
    dup = ids.duplicated()
    if dup.any():
        raise ValueError(f"{path}: identity listed twice, e.g. {ids[dup].iloc[0]}")
    return dict(zip(ids, table.iloc[:, 1].str.strip(), strict=True))


def _strata(df: pd.DataFrame, stratify: str | Sequence[str] | None) -> tuple[dict[str, str] | None, list[str]]:
    if stratify is None or (isinstance(stratify, str) and stratify.lower() in ("none", "")):
        return None, []
    if isinstance(stratify, str) and stratify.lower() == "auto":
        cols = ["gender"] if "gender" in df.columns and df["gender"].replace("", pd.NA).dropna().nunique() >= 2 else []
    else:
        cols = [stratify] if isinstance(stratify, str) else list(stratify)
        cols = [c.strip() for part in cols for c in part.split(",") if c.strip()]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"cannot stratify by {missing}: give them as columns of the meta file (--meta)")
    if not cols:
        return None, []
    per_id = df.drop_duplicates("identity").set_index("identity")[cols].astype(str)
    return {i: "|".join(row) for i, row in zip(per_id.index, per_id.to_numpy().tolist(), strict=True)}, cols


def assign_splits(
    df: pd.DataFrame,
    meta_table: pd.DataFrame | None,
    meta_source: str | Path | None,
    *,
    ratios: Sequence[float] | None,
    split: str | None,
    split_file: str | Path | None,
    stratify: str | Sequence[str] | None,
    seed: int,
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Fill the ``split`` column (precedence in the module docstring); items of people a given split
    does not list are left out and returned as skip records."""
    df = df.copy()
    sources = [name for name, given in (("--split", split), ("a split file", split_file)) if given is not None]
    meta_split = meta_table is not None and "split" in meta_table.columns
    if len(sources) > 1:
        raise ValueError("give either one split for every item or a split file, not both")
    if split is not None:
        df["split"] = split
        return df, []
    assign: dict[str, str] | None = None
    if split_file is not None:
        assign, where = normalise_split_names(_read_split_file(split_file), str(split_file)), str(split_file)
        if meta_split:
            log.warning("the split column of %s is ignored: the split file %s decides", meta_source, split_file)
    elif meta_split and ratios is None:
        table = meta_table[meta_table["split"].str.strip() != ""]
        assign = normalise_split_names(dict(zip(table["identity"], table["split"], strict=True)), str(meta_source))
        where = f"the split column of {meta_source}"
    elif meta_split:
        log.warning("the split column of %s is ignored: --ratios draws a new split", meta_source)
    if assign is not None:
        log.info("identity split taken from %s", where)
        df["split"] = df["identity"].map(assign)
        missing = df["split"].isna()
        skipped = [
            {"path": printable(p), "reason": "no_split", "detail": f"identity {i!r} has no split in {where}"}
            for p, i in zip(df.loc[missing, "path"], df.loc[missing, "identity"], strict=True)
        ]
        if missing.any():
            log.warning(
                "%d identities (%d items) have no split in %s and are left out: %s",
                df.loc[missing, "identity"].nunique(),
                int(missing.sum()),
                where,
                sorted(df.loc[missing, "identity"].unique())[:5],
            )
        unused = sorted(set(assign) - set(df["identity"]))
        if unused:
            log.warning("%d identities of %s have no media in the corpus, e.g. %s", len(unused), where, unused[:5])
        return df[~missing].reset_index(drop=True), skipped
    ratios = tuple(ratios) if ratios is not None else DEFAULT_RATIOS
    strata, cols = _strata(df, stratify)
    if strata is None:
        df["split"] = df["identity"].map(split_identities(df["identity"], ratios, seed))
    else:
        log.info("identity split stratified by %s", ", ".join(cols))
        df["split"] = df["identity"].map(stratified_split_identities(df["identity"], strata, ratios, seed))
    return df, []
