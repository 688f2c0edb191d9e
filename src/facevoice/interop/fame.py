"""FAME challenge submission files (Face-voice Association in Multilingual Environments).

A test setting is a pair of row-aligned feature CSVs (row i of the face file and of the voice file
form trial i; the first ``d_face`` / ``d_voice`` columns are the features) and a trial-key list
whose line i starts with trial i's id (``<trial_id> [label] ...``). The submission has one line
per trial, ``<trial_id> <score>``, score = L2 distance between the face and the voice embedding
(lower = same person), in ``sub_score_<lang>_heard.txt`` and ``sub_score_<lang>_unheard.txt``.

Embeddings are the method's ``embed`` outputs, L2-normalised (``normalize=True``: the distance is
then a monotone function of facevoice's cosine score, so EERs agree). ``normalize=False`` takes the
distance between the raw ``embed`` outputs, as the FOP baseline's ``computeScore.py`` does with
its model outputs. A method that scores with its own back-end (``xplda``, ``plda``: log-likelihood
ratios) writes the negated score instead (lower = same person, as the challenge expects).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.backends.scores import CosineScore
from facevoice.data.formats.numeric_csv import FormatError, read_feature_matrix
from facevoice.eval.metrics import eer
from facevoice.runs.loading import embed_array, load_method, method_pair_scores

SETTINGS = ("heard", "unheard")


class FameFormatError(ValueError):
    """A FAME input file is malformed (the message names the file and line)."""


def read_trial_keys(path: str | Path) -> tuple[list[str], np.ndarray | None]:
    """Trial ids (first token of each non-empty line) and labels (second token) when every line has a 0/1 one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FAME trial list not found: {path}")
    ids, labels = [], []
    for line in path.read_text().splitlines():
        tok = line.replace(",", " ").split()
        if not tok:
            continue
        ids.append(tok[0])
        labels.append(tok[1] if len(tok) > 1 and tok[1] in ("0", "1") else None)
    if not ids:
        raise FameFormatError(f"{path}: no trial ids")
    dup = pd.Index(ids).duplicated()
    if dup.any():
        raise FameFormatError(f"{path}: {int(dup.sum())} duplicate trial id(s), e.g. {ids[int(np.argmax(dup))]!r}")
    lab = None if any(x is None for x in labels) else np.asarray(labels, dtype=np.int8)
    return ids, lab


def read_test_features(path: str | Path, dim: int) -> np.ndarray:
    """A headerless feature CSV -> (T, dim) float32: ``dim`` columns, or ``dim`` + a last label column.

    Any other column count is refused (naming the file), never truncated; parsing, blank lines and
    line-numbered errors are those of :mod:`facevoice.data.formats.numeric_csv`.
    """

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FAME feature file not found: {path}")
    try:
        X, _ = read_feature_matrix(path, int(dim))
    except FormatError as exc:
        raise FameFormatError(str(exc)) from exc
    return X


def fame_distances(face_emb: np.ndarray, voice_emb: np.ndarray, normalize: bool = True) -> np.ndarray:
    """L2 distances ``(T,)`` between row-aligned face ``(T, D)`` and voice ``(T, D)`` embeddings."""
    f, v = np.asarray(face_emb, np.float64), np.asarray(voice_emb, np.float64)
    if f.shape != v.shape:
        raise ValueError(f"face embeddings {f.shape} and voice embeddings {v.shape} must be row-aligned")
    if normalize:
        f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.linalg.norm(f - v, axis=1)


def write_submission(trial_ids: Sequence[str], distances: np.ndarray, path: str | Path) -> Path:
    """Write ``<trial_id> <score>`` lines (6 decimals)."""
    if len(trial_ids) != len(distances):
        raise ValueError(f"{len(trial_ids)} trial ids but {len(distances)} scores")
    if not np.isfinite(distances).all():
        raise ValueError(f"{int((~np.isfinite(distances)).sum())} non-finite score(s); refusing to write {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{t} {d:.6f}\n" for t, d in zip(trial_ids, distances, strict=True)))
    return path


def export_fame(
    run_dir: str | Path,
    lang: str,
    settings: Mapping[str, Mapping[str, str]],
    out_dir: str | Path,
    which: str = "best",
    normalize: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Score each setting with a run's method and write ``sub_score_<lang>_<setting>.txt``.

    ``settings``: ``{"heard"|"unheard": {"face_csv", "voice_csv", "trials"}}``. Returns per setting
    the file written, the trial count and, when the trial list carries labels, the EER (the
    challenge's overall figure is the mean EER over the settings, reported as ``mean_eer``).
    """

    method = load_method(run_dir, which, device=device)
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown or not settings:
        raise ValueError(f"FAME settings must be among {list(SETTINGS)}, got {sorted(settings)}")
    report: dict[str, Any] = {}
    for setting, spec in settings.items():
        ids, labels = read_trial_keys(spec["trials"])
        F = read_test_features(spec["face_csv"], method.d_face)
        V = read_test_features(spec["voice_csv"], method.d_voice)
        if not len(F) == len(V) == len(ids):
            raise FameFormatError(
                f"{setting}: {len(ids)} trial ids ({spec['trials']}), {len(F)} face rows ({spec['face_csv']}), "
                f"{len(V)} voice rows ({spec['voice_csv']}); they must be row-aligned"
            )
        if isinstance(method.score_backend(), CosineScore):
            d = fame_distances(
                embed_array(method, F, "face", device=device), embed_array(method, V, "voice", device=device), normalize
            )
        else:  # a back-end's score (higher = same person), negated
            d = -method_pair_scores(method, F, V, device=device)
        path = write_submission(ids, d, Path(out_dir) / f"sub_score_{lang}_{setting}.txt")
        entry: dict[str, Any] = {"file": str(path), "n_trials": len(ids)}
        if labels is not None and 0 < labels.sum() < len(labels):
            entry["eer"] = float(eer(-d, labels).eer)
        report[setting] = entry
    eers = [e["eer"] for e in report.values() if "eer" in e]
    if eers and len(eers) == len(report):
        report["mean_eer"] = float(np.mean(eers))
    return report
