"""Evaluation protocols: verification trials, 1:N galleries and retrieval lists, as one object.

:func:`build_protocols` turns a manifest into a :class:`ProtocolSet` (definitions in
``docs/protocols.md``); :meth:`ProtocolSet.save` / :meth:`ProtocolSet.load` keep it as a folder of
TSV files (:mod:`facevoice.eval.protocols.io`) so that every method is scored on the same lists.

Splits: ``test_unseen`` (unseen-unheard: identities disjoint from training), ``test_seen``
(seen-heard: training identities, other videos) and ``test``; probes and candidates of a split
come from that split's items only. Heard / unheard language (MAV-Celeb): with
``heard_languages`` (``"auto"`` = the languages of the training voice items), a test split whose
voice items include another language gets two extra splits, ``<split>:heard`` and
``<split>:unheard``, whose voice items (probes in v2f, candidates in f2v) are restricted to the
heard / the other languages; face items are kept. Identity-disjointness from training is checked
(not assumed) for every split except ``test_seen``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.data.manifest import make_manifest, read_manifest
from facevoice.eval.protocols import io as pio
from facevoice.eval.protocols.builders import (
    CONSTRAINTS,
    DIRECTIONS,
    GALLERY_COLUMNS,
    RETRIEVAL_COLUMNS,
    SKIP_COLUMNS,
    TRIAL_COLUMNS,
    build_galleries,
    build_retrieval,
    build_verification,
    check_direction,
)

__all__ = [
    "ProtocolSet",
    "ProtocolError",
    "build_protocols",
    "make_protocol_folder",
    "KINDS",
    "TEST_SPLITS",
    "ITEM_COLUMNS",
]

KINDS: tuple[str, ...] = ("verification", "matching", "retrieval")
TEST_SPLITS: tuple[str, ...] = ("test_unseen", "test_seen", "test")
ITEM_COLUMNS: tuple[str, ...] = ("item_id", "identity", "modality", "split", "video", "gender", "nationality")
ITEM_COLUMNS += ("age_band", "language")
_FILES = {"trials": "trials.tsv", "galleries": "galleries.tsv", "retrieval": "retrieval.tsv", "items": "items.tsv"}


class ProtocolError(ValueError):
    """A protocol cannot be built as asked (e.g. a test split shares identities with training)."""


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class ProtocolSet:
    """Trials, galleries, retrieval lists, the items they reference, skip records and build metadata."""

    trials: pd.DataFrame = field(default_factory=lambda: _empty(TRIAL_COLUMNS))
    galleries: pd.DataFrame = field(default_factory=lambda: _empty(GALLERY_COLUMNS))
    retrieval: pd.DataFrame = field(default_factory=lambda: _empty(RETRIEVAL_COLUMNS))
    items: pd.DataFrame | None = None
    skips: pd.DataFrame = field(default_factory=lambda: _empty(SKIP_COLUMNS))
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Counts per protocol / split / direction / constraint: trials, galleries, probes and skips."""
        parts = []
        if len(self.trials):
            g = self.trials.groupby(["split", "direction", "constraint"], sort=False)
            parts.append(g.size().rename("count").reset_index().assign(protocol="verification", unit="trials"))
        if len(self.galleries):
            g = self.galleries.assign(constraint="N=" + self.galleries["n"].astype(str))
            g = g.groupby(["split", "direction", "constraint"], sort=False)
            parts.append(g.size().rename("count").reset_index().assign(protocol="matching", unit="galleries"))
        if len(self.retrieval):
            r = self.retrieval[self.retrieval["role"] == "probe"].assign(constraint="all")
            g = r.groupby(["split", "direction", "constraint"], sort=False)
            parts.append(g.size().rename("count").reset_index().assign(protocol="retrieval", unit="probes"))
        if len(self.skips):
            g = self.skips.groupby(["protocol", "split", "direction", "constraint", "reason"], sort=False)
            parts.append(g.size().rename("count").reset_index().assign(unit="skipped probes"))
        if not parts:
            return _empty(("protocol", "split", "direction", "constraint", "unit", "count", "reason"))
        cols = ["protocol", "split", "direction", "constraint", "unit", "count", "reason"]
        return pd.concat(parts, ignore_index=True).reindex(columns=cols).fillna({"reason": ""})

    def identity_of(self) -> dict[str, str]:
        """item_id -> identity from :attr:`items` (empty when the set carries no items)."""
        if self.items is None:
            return {}
        return dict(zip(self.items["item_id"], self.items["identity"], strict=True))

    def save(self, folder: str | Path) -> Path:
        """Write ``trials.tsv``, ``galleries.tsv``, ``retrieval.tsv``, ``items.tsv``, ``skips.tsv``,
        ``protocols.json`` (metadata and summary) under ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pio.write_trials(self.trials, folder / _FILES["trials"])
        pio.write_galleries(self.galleries, folder / _FILES["galleries"])
        pio.write_retrieval(self.retrieval, folder / _FILES["retrieval"])
        pio.write_skips(self.skips, folder / "skips.tsv")
        if self.items is not None:
            pio.write_table(self.items, folder / _FILES["items"])
        doc = {"meta": self.meta, "summary": self.summary().to_dict(orient="records")}
        (folder / "protocols.json").write_text(json.dumps(doc, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ProtocolSet:
        """Read a folder written by :meth:`save` (a folder with only some of the files is accepted)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"protocol folder not found: {folder}")
        if not any((folder / f).exists() for f in _FILES.values()):
            raise FileNotFoundError(f"{folder}: none of {sorted(_FILES.values())} found")
        ps = cls()
        if (folder / _FILES["trials"]).exists():
            ps.trials = pio.read_trials(folder / _FILES["trials"])
        if (folder / _FILES["galleries"]).exists():
            ps.galleries = pio.read_galleries(folder / _FILES["galleries"])
        if (folder / _FILES["retrieval"]).exists():
            ps.retrieval = pio.read_retrieval(folder / _FILES["retrieval"])
        if (folder / _FILES["items"]).exists():
            ps.items = pio.read_table(folder / _FILES["items"], ("item_id", "identity", "modality"))
        if (folder / "skips.tsv").exists():
            ps.skips = pio.read_table(folder / "skips.tsv", SKIP_COLUMNS)
        if (folder / "protocols.json").exists():
            ps.meta = json.loads((folder / "protocols.json").read_text()).get("meta", {})
        return ps


def _pools(df: pd.DataFrame, splits, heard_languages) -> tuple[list[tuple[str, str, pd.DataFrame]], dict]:
    """(pool name, base split, pool rows) for each split and language subset, plus language metadata."""
    pools, lang_meta = [], {}
    if isinstance(heard_languages, str) and heard_languages == "auto":
        train_voice = df[(df["split"] == "train") & (df["modality"] == "voice")]
        heard = set(train_voice["language"]) - {""}
    elif isinstance(heard_languages, str):
        heard = {heard_languages}
    else:
        heard = set(heard_languages or ())
    lang_meta["heard_languages"] = sorted(heard)
    for s in splits:
        pool = df[df["split"] == s]
        pools.append((s, s, pool))
        if not heard:
            continue
        is_voice = pool["modality"] == "voice"
        lang = pool["language"]
        unheard_voice = is_voice & (lang != "") & ~lang.isin(heard)
        if not unheard_voice.any():
            continue
        heard_voice = is_voice & lang.isin(heard)
        lang_meta[s] = {
            "heard_voice_items": int(heard_voice.sum()),
            "unheard_voice_items": int(unheard_voice.sum()),
            "voice_items_without_language": int((is_voice & (lang == "")).sum()),
            "unheard_languages": sorted(set(lang[unheard_voice])),
        }
        pools.append((f"{s}:heard", s, pool[~is_voice | heard_voice]))
        pools.append((f"{s}:unheard", s, pool[~is_voice | unheard_voice]))
    return pools, lang_meta


def _identity_checks(df: pd.DataFrame, pools) -> dict:
    train_ids = set(df.loc[df["split"] == "train", "identity"])
    val_ids = set(df.loc[df["split"] == "val", "identity"])
    checks = {}
    for name, base, pool in pools:
        ids = set(pool["identity"])
        shared_train, shared_val = sorted(ids & train_ids), sorted(ids & val_ids)
        checks[name] = {
            "identities": len(ids),
            "shared_with_train": len(shared_train),
            "shared_with_val": len(shared_val),
        }
        if base != "test_seen" and (shared_train or shared_val):
            raise ProtocolError(
                f"split {name!r} shares {len(shared_train)} identities with train and {len(shared_val)} with val "
                f"(e.g. {(shared_train + shared_val)[:5]}); unseen / language protocols need disjoint identities"
            )
    return checks


def build_protocols(
    manifest: pd.DataFrame,
    splits=None,
    seed: int = 0,
    n_neg: int = 1,
    constraints=tuple(CONSTRAINTS),
    gallery_sizes=range(2, 11),
    n_galleries: int | None = None,
    directions=DIRECTIONS,
    heard_languages="auto",
    kinds=KINDS,
) -> ProtocolSet:
    """Build every protocol of ``kinds`` for each split (and language subset) and direction.

    Args:
        manifest: a facevoice manifest (validated here).
        splits: splits to build; default: those of :data:`TEST_SPLITS` present in the manifest.
        seed: non-negative; the lists are a deterministic function of (manifest, arguments, seed).
        n_neg: negatives per probe and constraint in verification.
        constraints: subset of ``random, G, N, A, GNA``.
        gallery_sizes: the N of 1:N matching; n_galleries: galleries per (split, direction, N),
            None = one per probe.
        directions: subset of ``v2f, f2v``.
        heard_languages: ``"auto"``, None (no language subsets) or the training language(s).
        kinds: subset of ``verification, matching, retrieval``.
    """
    df = make_manifest(manifest)
    present = [s for s in TEST_SPLITS if (df["split"] == s).any()]
    splits = present if splits is None else [splits] if isinstance(splits, str) else list(splits)
    if not splits:
        raise ProtocolError(f"manifest has none of the test splits {list(TEST_SPLITS)}; pass splits=...")
    for s in splits:
        if not (df["split"] == s).any():
            raise ProtocolError(
                f"split {s!r} has no items in the manifest (splits present: {sorted(set(df['split']))})"
            )
    for d in directions:
        check_direction(d)
    bad_kinds = [k for k in kinds if k not in KINDS]
    if bad_kinds:
        raise ValueError(f"unknown protocol kind(s) {bad_kinds}; valid: {list(KINDS)}")
    pools, lang_meta = _pools(df, splits, heard_languages)
    checks = _identity_checks(df, pools)
    trials, galleries, retrieval, skips = [], [], [], []
    for name, _, pool in pools:
        for d in directions:
            if "verification" in kinds:
                t, sk = build_verification(pool, name, d, constraints, n_neg, seed)
                trials.append(t)
                skips += sk
            if "matching" in kinds:
                g, sk = build_galleries(pool, name, d, gallery_sizes, n_galleries, seed)
                galleries.append(g)
                skips += sk
            if "retrieval" in kinds:
                r, sk = build_retrieval(pool, name, d)
                retrieval.append(r)
                skips += sk
    items = df[df["split"].isin(splits)][list(ITEM_COLUMNS)].reset_index(drop=True)
    meta = {
        "seed": int(seed),
        "n_neg": int(n_neg),
        "constraints": list(constraints),
        "gallery_sizes": [int(n) for n in gallery_sizes],
        "n_galleries": n_galleries,
        "directions": list(directions),
        "splits": [p[0] for p in pools],
        "kinds": list(kinds),
        "languages": lang_meta,
        "identity_checks": checks,
    }
    cat = lambda frames, cols: pd.concat(frames, ignore_index=True) if frames else _empty(cols)  # noqa: E731
    skip_df = pd.DataFrame(skips, columns=list(SKIP_COLUMNS)) if skips else _empty(SKIP_COLUMNS)
    ps = ProtocolSet(
        cat(trials, TRIAL_COLUMNS), cat(galleries, GALLERY_COLUMNS), cat(retrieval, RETRIEVAL_COLUMNS), items, skip_df
    )
    ps.trials["label"] = ps.trials["label"].astype(np.int8)
    meta["skipped_probes"] = {k: int(v) for k, v in skip_df.groupby("reason").size().items()} if skips else {}
    ps.meta = meta
    return ps


def make_protocol_folder(manifest_path: str | Path, out: str | Path, **kwargs: Any) -> ProtocolSet:
    """Read a manifest file, :func:`build_protocols` with ``kwargs`` and save the set under ``out``."""

    ps = build_protocols(read_manifest(manifest_path), **kwargs)
    ps.meta["manifest"] = str(manifest_path)
    ps.save(out)
    return ps
