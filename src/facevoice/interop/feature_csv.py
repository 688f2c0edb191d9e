"""Train and evaluate on FOP-style feature CSVs given by path (FOP / SBNet / PAEFF / FAME releases).

Recipe ``data:`` section with ``source: feature_csv``::

    face_csv: train_faces.csv        # headerless, features then the identity label; row-aligned
    voice_csv: train_voices.csv      # with face_csv (row i of both = the same identity)
    face_dim: 4096                   # optional, checked when given
    voice_dim: 512
    val: {face_csv: ..., voice_csv: ...}   # optional; otherwise val identities are carved from train
    tests:                                 # optional verification lists, evaluated after training
      unseen_unheard: {face_csv: ..., voice_csv: ..., labels: auto}   # auto | identity | parity
      other: {face_csv: ..., voice_csv: ..., key: keys.txt}           # labels from a key file

Each training row becomes one face item and one voice item of its identity (``train`` split);
validation rows likewise (``val``). Verification lists are read by
:func:`facevoice.data.formats.fop.read_fop_verification_list` (row i of both files = trial i) and scored
with the cosine of ``method.embed`` outputs, or with the method's own score back-end (``xplda``,
``plda``: log-likelihood ratios). A list's ``key`` (a ``trial_id label`` file, line i =
trial i) gives its labels and trial ids instead of the files' label columns. With ``scores_dir``,
every list's per-trial scores go to ``<scores_dir>/<name>.tsv`` (``trial_id score label``, full
precision; trial ids from the key, else the 0-based row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.backends.scores import CosineScore
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.formats.fop import read_fop_features, read_fop_verification_list
from facevoice.data.formats.numeric_csv import FormatError
from facevoice.data.manifest import make_manifest
from facevoice.eval.metrics import auc, eer, reference_eer
from facevoice.eval.protocols.io import write_table
from facevoice.eval.protocols.score_files import read_key
from facevoice.runs.loading import embed_array, load_method, method_pair_scores


def _rows(prefix: str, split: str, labels: np.ndarray) -> list[pd.DataFrame]:
    n = len(labels)
    out = []
    for modality in ("face", "voice"):
        out.append(
            pd.DataFrame(
                {
                    "item_id": [f"{prefix}-{modality[0]}{i}" for i in range(n)],
                    "identity": labels.astype(str),
                    "modality": modality,
                    "split": split,
                    "feature_ref": [f"{prefix}#{i}" for i in range(n)],
                }
            )
        )
    return out


def load_feature_csv_bundle(section: Mapping[str, Any]) -> EmbeddingBundle:
    """Bundle of the training (and optional validation) CSV pairs of a ``data:`` section."""

    for key in ("face_csv", "voice_csv"):
        if not section.get(key):
            raise ValueError(f"data.source=feature_csv needs data.{key} (a FOP-style feature CSV path)")
    dims = {"face_dim": section.get("face_dim"), "voice_dim": section.get("voice_dim")}
    train = read_fop_features(section["face_csv"], section["voice_csv"], **dims)
    frames = _rows("train", "train", train.labels)
    faces, voices = [train.face], [train.voice]
    val = section.get("val") or {}
    if val:
        missing = [k for k in ("face_csv", "voice_csv") if not val.get(k)]
        if missing:
            raise ValueError(f"data.val needs face_csv and voice_csv (row-aligned validation CSVs); missing {missing}")
        v = read_fop_features(val["face_csv"], val["voice_csv"], **dims)
        shared = sorted(str(x) for x in set(v.labels) & set(train.labels))
        if shared:
            raise ValueError(
                f"{val['face_csv']}: {len(shared)} validation identities also in {section['face_csv']} "
                f"(e.g. {', '.join(shared[:5])}); validation identities must be held out"
            )
        frames += _rows("val", "val", v.labels)
        faces.append(v.face)
        voices.append(v.voice)
    # face rows first, then voice rows, in the order of the embedding matrices
    manifest = make_manifest(pd.concat(frames[0::2] + frames[1::2], ignore_index=True))
    emb = {"face": np.concatenate(faces).astype(np.float32), "voice": np.concatenate(voices).astype(np.float32)}
    tags = {"face": f"csv:{section['face_csv']}", "voice": f"csv:{section['voice_csv']}"}
    return EmbeddingBundle(manifest, emb, tags, {"source": "feature_csv"})


def evaluate_feature_lists(
    method: Any, section: Mapping[str, Any], device: str = "cpu", scores_dir: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    """EER / AUC (exact, and the reference grid estimate) of every list in ``section["tests"]``.

    Returns ``{name: {eer, auc, reference_eer, n_trials, n_target, label_source, parity_agreement}}``;
    with ``scores_dir`` also writes each list's per-trial scores (``<name>.tsv``, key ``scores_file``).
    """

    out: dict[str, dict[str, Any]] = {}
    for name, spec in dict(section.get("tests") or {}).items():
        lst = read_feature_list(name, spec, section, method.d_face, method.d_voice)
        scores = pair_scores(method, lst.face, lst.voice, device)
        # the reference grid spans cosine scores; log-likelihood ratios get a grid over their own range
        span = (float(scores.min()), float(scores.max())) if method.score_backend().llr else (-1.0, 1.0)
        written = {}
        if scores_dir is not None:
            ids = lst.trial_ids if lst.trial_ids is not None else np.arange(len(scores)).astype(str)
            table = pd.DataFrame({"trial_id": ids, "score": scores, "label": lst.labels.astype(int)})
            written = {"scores_file": str(write_table(table, Path(scores_dir) / f"{name}.tsv"))}
        out[name] = {
            "eer": float(eer(scores, lst.labels).eer),
            "auc": float(auc(scores, lst.labels)),
            "reference_eer": float(reference_eer(scores, lst.labels, score_range=span).eer),
            "n_trials": int(len(scores)),
            "n_target": int(lst.labels.sum()),
            "label_source": lst.label_source,
            "parity_agreement": lst.parity_agreement,
            "files": [str(spec["face_csv"]), str(spec["voice_csv"])] + ([str(spec["key"])] if spec.get("key") else []),
            **written,
        }
    return out


def read_feature_list(name: str, spec: Mapping[str, Any], section: Mapping[str, Any], d_face: int, d_voice: int) -> Any:
    """Read and check one ``data.tests.<name>`` list (:class:`~facevoice.data.formats.fop.FOPVerificationList`).

    Feature sizes: the section's ``face_dim`` / ``voice_dim`` when given, else ``d_face`` / ``d_voice``.
    """

    if not isinstance(spec, Mapping) or not spec.get("face_csv") or not spec.get("voice_csv"):
        raise ValueError(f"data.tests.{name} needs face_csv and voice_csv")
    key = spec.get("key")
    lst = read_fop_verification_list(
        spec["face_csv"],
        spec["voice_csv"],
        labels="parity" if key else spec.get("labels", "auto"),  # with a key the files' labels are not needed
        face_dim=section.get("face_dim") or d_face,
        voice_dim=section.get("voice_dim") or d_voice,
    )
    if not key:
        return lst
    truth = read_key(key)
    if len(truth) != len(lst.labels):
        raise FormatError(
            f"{key}: {len(truth)} trials, but {spec['face_csv']} has {len(lst.labels)} rows (line i = row i)"
        )
    return dataclasses.replace(
        lst, labels=truth["label"].to_numpy(np.int8), label_source="key", trial_ids=truth["trial_id"].to_numpy(str)
    )


def check_feature_lists(section: Mapping[str, Any], d_face: int, d_voice: int) -> dict[str, int]:
    """Parse every ``section["tests"]`` list before training (so a bad file fails in seconds, not after
    the last epoch); returns ``{name: n_trials}``. The lists are read again for scoring afterwards."""
    tests = dict(section.get("tests") or {})
    return {name: len(read_feature_list(name, spec, section, d_face, d_voice).labels) for name, spec in tests.items()}


def pair_scores(method: Any, face: np.ndarray, voice: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Scores ``(T,)`` of row-aligned face ``(T, Df)`` / voice ``(T, Dv)`` features: the cosine of
    ``method.embed`` outputs, or the method's own score back-end (e.g. PLDA log-likelihood ratios)."""
    if not isinstance(method.score_backend(), CosineScore):
        return method_pair_scores(method, face, voice, device)
    f = embed_array(method, face, "face", device=device)
    v = embed_array(method, voice, "voice", device=device)
    f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.sum(f * v, axis=1).astype(np.float64)


def parse_test_specs(texts: Any) -> dict[str, dict[str, str]]:
    """``["NAME=FACE_CSV,VOICE_CSV[,KEY]", ...]`` -> ``{NAME: {"face_csv", "voice_csv"[, "key"]}}``;
    a repeated NAME is an error. ``KEY``: a ``trial_id label`` file giving the list's labels."""
    parsed: dict[str, dict[str, str]] = {}
    for text in texts:
        name, sep, files = str(text).partition("=")
        parts = [p.strip() for p in files.split(",")]
        if not sep or len(parts) not in (2, 3) or not name.strip() or not all(parts):
            raise ValueError(f"test list {text!r} must look like NAME=FACE_CSV,VOICE_CSV[,KEY_FILE]")
        if name.strip() in parsed:
            raise ValueError(f"test list name {name.strip()!r} given twice; names must be unique")
        parsed[name.strip()] = {"face_csv": parts[0], "voice_csv": parts[1]} | (
            {"key": parts[2]} if len(parts) == 3 else {}
        )
    return parsed


def evaluate_run_lists(
    run_dir: Any,
    tests: Any,
    labels: str = "auto",
    which: str = "best",
    device: str = "cpu",
    scores_dir: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate a trained run on ``NAME=FACE_CSV,VOICE_CSV[,KEY]`` lists (strings) or a ``{name: {...}}`` mapping."""

    if not isinstance(tests, Mapping):
        tests = {name: {**spec, "labels": labels} for name, spec in parse_test_specs(tests).items()}
    method = load_method(run_dir, which, device=device)
    return evaluate_feature_lists(method, {"tests": tests}, device, scores_dir)
