"""``facevoice evaluate``: a score file, or embeddings (a bundle or two stores) on a trial list or protocol folder.

With an output folder, every scored verification trial is also written to ``trial_scores.tsv``
(``probe_id candidate_id trial_id score label direction constraint split``, scores at full float64
precision, so no two different scores print alike), for DET tools, fusion or significance tests.
Labels of a score file may come from the file, a trial list, a manifest, or a key file (``trial_id
label``, joined on the trial ids of the score file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.backends.scores import CosineScore
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import read_manifest
from facevoice.eval.protocols.io import read_trials, write_table
from facevoice.eval.protocols.score_files import attach_key, read_key, read_scores
from facevoice.eval.scoring.engine import evaluate_protocols, evaluate_scores, label_scores, score_trials
from facevoice.eval.scoring.results import write_results
from facevoice.eval.scoring.scorers import EmbeddingScorer
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
    key: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Evaluate a score file, or embeddings (bundle or two stores) on a trial list / protocol folder.

    ``run``: score the embeddings through a trained run's method and its own score back-end (e.g.
    ``xplda``'s PLDA log-likelihood ratios) instead of comparing them by ``metric``.
    ``calibration`` adds Cllr, min Cllr and the actual DCF at ``p_target`` per verification list,
    reading the scores as natural-log likelihood ratios (for cosine or distance scores, Cllr and the
    actual DCF show that they are not calibrated LLRs; min Cllr is valid for any score).
    ``key``: a key file (``trial_id label``) labelling a score file's trials by their ids.

    Returns:
        ``(results long table, meta)``; with ``out`` also writes JSON + Markdown and ``trial_scores.tsv``
        (paths in ``meta["written"]``).
    """

    given = dict(scores=scores, trials=trials, protocols=protocols, key=key)
    meta: dict[str, Any] = {k: str(v) for k, v in given.items() if v}
    if key is not None and scores is None:
        raise ValueError("a key file labels the trials of a score file; embeddings are labelled by identities")
    if scores is not None and run is not None:
        raise ValueError("a run scores embeddings (a bundle or two stores), not a score file")
    scored = None
    meta.update(p_target=p_target, reference=reference, calibration=calibration)
    if scores is not None:
        if protocols is not None:
            if trials is not None:
                raise ValueError("with a score file give at most one of a trial list or a protocol folder")
            trials = Path(protocols) / "trials.tsv"

        table = read_scores(scores, higher_is_better=higher_is_better)
        if key is not None:
            table = attach_key(table, read_key(key))
        trial_df = read_trials(trials) if trials is not None else None
        man = read_manifest(manifest) if manifest is not None else None
        results = evaluate_scores(table, trial_df, man, p_target=p_target, reference=reference, calibration=calibration)
        meta.update(higher_is_better=higher_is_better, unused_scores=results.attrs.get("unused_scores", 0))
        if out is not None:
            scored = label_scores(table, trial_df, man)
            if not higher_is_better:  # written as read: the file's own distances
                scored = scored.assign(score=-scored["score"])
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
        scorer = EmbeddingScorer(face, voice, metric)
        results = evaluate_protocols(
            protocols or trials, scorer, man, p_target=p_target, reference=reference, calibration=calibration
        )
        if out is not None:
            scored = score_trials(protocols or trials, scorer, man)
    if out is not None:
        meta["written"] = [str(p) for p in write_results(results, out, meta)]
        if scored is not None and len(scored):
            meta["written"].append(str(write_trial_scores(scored, out)))
    return results, meta


TRIAL_SCORE_COLUMNS = ("probe_id", "candidate_id", "trial_id", "score", "label", "direction", "constraint", "split")


def write_trial_scores(scored: pd.DataFrame, out: str | Path) -> Path:
    """``trial_scores.tsv`` beside the results (``out`` a folder, or a ``.json`` path whose folder is used)."""
    out = Path(out)
    folder = out.parent if out.suffix == ".json" else out
    df = scored.reindex(columns=list(TRIAL_SCORE_COLUMNS)).copy()
    for c in TRIAL_SCORE_COLUMNS:
        if c != "score":
            df[c] = df[c].fillna("").astype(str)
    df["label"] = df["label"].replace("-1", "")  # unknown
    df = df.loc[:, [c for c in TRIAL_SCORE_COLUMNS if c == "score" or (df[c] != "").any()]]
    return write_table(df, folder / "trial_scores.tsv")
