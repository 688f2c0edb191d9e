"""``facevoice evaluate``: a score file, or embeddings (a bundle or two stores) on a trial list or protocol folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.backends.scores import CosineScore
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import read_manifest
from facevoice.eval.protocols.io import read_trials
from facevoice.eval.protocols.score_files import read_scores
from facevoice.eval.scoring.engine import evaluate_embeddings, evaluate_scores
from facevoice.eval.scoring.results import write_results
from facevoice.runs.loading import embed_array, load_method
from facevoice.store import EmbeddingStore


def _load_embeddings(bundle, face_store, voice_store, manifest):

    if bundle is not None:
        b = EmbeddingBundle.load(bundle, manifest=manifest)
        pairs = {m: (b.rows(m)["item_id"].tolist(), b.embeddings[m]) for m in ("face", "voice")}
        return pairs["face"], pairs["voice"], b.manifest
    if face_store is None or voice_store is None:
        raise ValueError("give a score file, an embedding bundle, or both a face and a voice store")

    face, voice = EmbeddingStore.open(face_store).read_all(), EmbeddingStore.open(voice_store).read_all()
    return face, voice, read_manifest(manifest) if manifest is not None else None


def _through_run(run, face, voice):
    """Embed ``(ids, X)`` of both modalities with a run's selected method; its score back-end as the metric."""
    method = load_method(run, "best")
    out = {}
    for m, (ids, X) in (("face", face), ("voice", voice)):
        want = method.d_face if m == "face" else method.d_voice
        if np.asarray(X).shape[1] != want:
            raise ValueError(f"{m} embeddings are {np.asarray(X).shape[1]}-d but the run {run} expects {want}-d")
        out[m] = (ids, embed_array(method, X, m))
    backend = method.score_backend()
    return out["face"], out["voice"], "cosine" if isinstance(backend, CosineScore) else backend


def run_evaluation(
    *,
    scores: str | Path | None = None,
    trials: str | Path | None = None,
    protocols: str | Path | None = None,
    bundle: str | Path | None = None,
    face_store: str | Path | None = None,
    voice_store: str | Path | None = None,
    manifest: str | Path | None = None,
    run: str | Path | None = None,
    metric: str = "cosine",
    higher_is_better: bool = True,
    reference: bool = False,
    p_target: float = 0.01,
    calibration: bool = True,
    out: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Evaluate a score file, or embeddings (bundle or two stores) on a trial list / protocol folder.

    ``run``: score the embeddings through a trained run's method and its own score back-end (e.g.
    ``xplda``'s PLDA log-likelihood ratios) instead of comparing them by ``metric``.
    ``calibration`` adds Cllr, min Cllr and the actual DCF at ``p_target`` per verification list,
    reading the scores as natural-log likelihood ratios (for cosine or distance scores, Cllr and the
    actual DCF show that they are not calibrated LLRs; min Cllr is valid for any score).

    Returns:
        ``(results long table, meta)``; with ``out`` also writes JSON + Markdown (paths in ``meta["written"]``).
    """

    meta: dict[str, Any] = {k: str(v) for k, v in dict(scores=scores, trials=trials, protocols=protocols).items() if v}
    meta.update(p_target=p_target, reference=reference, calibration=calibration)
    if scores is not None and run is not None:
        raise ValueError("a run scores embeddings (a bundle or two stores), not a score file")
    if scores is not None:
        if protocols is not None:
            if trials is not None:
                raise ValueError("with a score file give at most one of a trial list or a protocol folder")
            trials = Path(protocols) / "trials.tsv"

        table = read_scores(scores, higher_is_better=higher_is_better)
        trial_df = read_trials(trials) if trials is not None else None
        man = read_manifest(manifest) if manifest is not None else None
        results = evaluate_scores(table, trial_df, man, p_target=p_target, reference=reference, calibration=calibration)
        meta.update(higher_is_better=higher_is_better, unused_scores=results.attrs.get("unused_scores", 0))
    else:
        if (trials is None) == (protocols is None):
            raise ValueError("with embeddings give exactly one of a trial list or a protocol folder")
        face, voice, man = _load_embeddings(bundle, face_store, voice_store, manifest)
        if run is not None:
            face, voice, metric = _through_run(run, face, voice)
        meta.update(
            metric=metric if isinstance(metric, str) else type(metric).__name__,
            run=str(run) if run else None,
            bundle=str(bundle) if bundle else None,
            n_face=len(face[0]),
            n_voice=len(voice[0]),
        )
        results = evaluate_embeddings(
            face,
            voice,
            protocols or trials,
            man,
            metric=metric,
            p_target=p_target,
            reference=reference,
            calibration=calibration,
        )
    if out is not None:
        meta["written"] = [str(p) for p in write_results(results, out, meta)]
    return results, meta
