"""Precomputed feature CSVs (FOP / FAME style) → manifest + one embedding store per modality.

Format: no header, one row per sample, the last column is the identity label; the face and the voice
CSV of a pair are row-aligned (row ``i`` of both belongs to the same identity). Several pairs (e.g.
train and test files) go into one manifest; each pair names its split and, optionally, a namespace
prefixed to its labels (for files whose labels are re-numbered from 0 and would otherwise collide
with another file's identities) and a language.

Output folder: ``manifest.parquet``, ``face_store/`` and ``voice_store/`` (embedding stores whose
tag carries the sha256 of the CSV files). ``feature_ref`` = ``<csv path>#<row>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.core.hashing import file_sha256
from facevoice.data.formats.numeric_csv import read_feature_matrix
from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.store import EmbeddingStore


@dataclass(frozen=True)
class FeaturePair:
    """One row-aligned (face CSV, voice CSV) pair and where its rows go."""

    face_csv: str
    voice_csv: str
    split: str
    namespace: str = ""
    language: str = ""

    @classmethod
    def parse(cls, spec: str) -> FeaturePair:
        """``"face.csv,voice.csv,split[,namespace[,language]]"`` → FeaturePair."""
        parts = [p.strip() for p in spec.split(",")]
        if not 3 <= len(parts) <= 5:
            raise ValueError(f"feature pair {spec!r}: expected face.csv,voice.csv,split[,namespace[,language]]")
        return cls(*parts)


def read_feature_csv(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """FOP-style CSV → features ``(N, D)`` float32 and labels ``(N,)`` (integral labels as ``"3"``, not ``"3.0"``).

    The reader of :mod:`facevoice.data.formats.numeric_csv`: errors name the file and the 1-based line.
    """

    X, labels = read_feature_matrix(path, label=True)
    return X, [str(v) for v in labels]


def _store_tag(modality: str, files: list[str]) -> str:
    h = hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
    return f"features-{modality}:{'+'.join(Path(f).name for f in files)}#{h[:16]}"


def prepare_features(pairs: Sequence[FeaturePair | str], out_dir: str | Path, chunk: int = 4096) -> pd.DataFrame:
    """Read every pair, check row alignment, write ``manifest.parquet`` and the two stores; return the manifest."""

    pairs = [FeaturePair.parse(p) if isinstance(p, str) else p for p in pairs]
    if not pairs:
        raise ValueError("no feature CSV pairs given")
    out_dir = Path(out_dir)
    records, feats = [], {"face": [], "voice": []}
    for pair in pairs:
        fx, flab = read_feature_csv(pair.face_csv)
        vx, vlab = read_feature_csv(pair.voice_csv)
        if len(fx) != len(vx):
            raise ValueError(f"{pair.face_csv} has {len(fx)} rows but {pair.voice_csv} has {len(vx)}: not row-aligned")
        mismatch = [i for i, (a, b) in enumerate(zip(flab, vlab, strict=True)) if a != b]
        if mismatch:
            i = mismatch[0]
            raise ValueError(
                f"{pair.face_csv} / {pair.voice_csv} line {i + 1}: labels differ ({flab[i]!r} vs {vlab[i]!r})"
            )
        for modality, csv, X, labels in (("face", pair.face_csv, fx, flab), ("voice", pair.voice_csv, vx, vlab)):
            stem = Path(csv).stem
            for row, lab in enumerate(labels):
                records.append(
                    {
                        "item_id": f"{modality}:{stem}:{row}",
                        "identity": f"{pair.namespace}:{lab}" if pair.namespace else lab,
                        "modality": modality,
                        "path": "",
                        "feature_ref": f"{Path(csv).resolve()}#{row}",
                        "split": pair.split,
                        "language": pair.language,
                    }
                )
            feats[modality].append(X)
    df = make_manifest(records)
    for modality in ("face", "voice"):
        dims = {x.shape[1] for x in feats[modality]}
        if len(dims) != 1:
            raise ValueError(f"{modality} CSVs have different feature sizes {sorted(dims)}")
        X = np.concatenate(feats[modality])
        ids = df.loc[df["modality"] == modality, "item_id"].tolist()
        files = [p.face_csv if modality == "face" else p.voice_csv for p in pairs]
        store = EmbeddingStore.create(
            out_dir / f"{modality}_store",
            _store_tag(modality, files),
            X.shape[1],
            meta={"source": "feature_csv", "files": [str(Path(f).resolve()) for f in files]},
        )
        done = store.done_ids()
        for start in range(0, len(ids), chunk):
            sel = [j for j in range(start, min(start + chunk, len(ids))) if ids[j] not in done]
            if sel:
                store.write_shard([ids[j] for j in sel], X[sel], name=f"rows{start:09d}")
    write_manifest(df, out_dir / "manifest.parquet")
    return df
