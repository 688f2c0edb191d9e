"""Reference rows of a benchmark, scored by the same protocols and metrics as the methods.

On a real corpus a figure means little without the floor it should clear:

``gender-only``  matches a voice to a face by the manifest's gender alone: score 1 when both items
                 have the same (known) gender, 0 when they differ, 0.5 when either is unknown. It
                 is what a perfect gender classifier and nothing else would get: on 1:2 matching
                 ``0.5 + 0.5 * P(the two candidates differ in gender)``, so a test set's gender mix
                 moves it by tens of points (issue 16: 0 to 5 women among 6 test people);
``chance``       one constant score for every pair: EER and AUC 50 %, 1:N accuracy 1/N, exactly
                 (the metrics score ties as the expected value of random tie-breaking).

A benchmark adds them with ``references: {gender: true, chance: true}``. The gender row needs a
``gender`` column in the manifest (``prepare ... --meta``); without one it is left out with a
warning naming the missing column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from facevoice.core.log import get_logger
from facevoice.eval.protocols.protocol_set import ProtocolSet
from facevoice.eval.scoring.engine import evaluate_protocols
from facevoice.eval.scoring.scorers import FunctionScorer
from facevoice.pipelines.benchmark.scoring import HEADLINE, trial_scores

log = get_logger(__name__)

__all__ = ["REFERENCE_NAMES", "chance_scorer", "evaluate_references", "gender_scorer"]

#: ``references:`` key of the benchmark recipe -> row name in the tables
REFERENCE_NAMES = {"gender": "gender-only", "chance": "chance"}


def gender_scorer(manifest: pd.DataFrame) -> FunctionScorer | None:
    """Scores 1 / 0 / 0.5 for same / different / unknown gender of the two items; None without genders."""
    if "gender" not in manifest.columns:
        return None
    gender = manifest["gender"].fillna("").astype(str).str.strip().str.lower()
    if not (gender != "").any():
        return None
    lookup = pd.Series(gender.to_numpy(), index=manifest["item_id"].astype(str).to_numpy())

    def score(probe_ids: np.ndarray, cand_ids: np.ndarray, direction: str) -> np.ndarray:
        gp = lookup.reindex(probe_ids).fillna("").to_numpy(str)
        gc = lookup.reindex(cand_ids).fillna("").to_numpy(str)
        known = (gp != "") & (gc != "")
        return np.where(known, (gp == gc).astype(np.float64), 0.5)

    return FunctionScorer(score)


def chance_scorer() -> FunctionScorer:
    """The same score for every pair (every figure at its chance level)."""
    return FunctionScorer(lambda p, c, d: np.zeros(len(p), dtype=np.float64))


def evaluate_references(
    refs: Mapping[str, Any], manifest: pd.DataFrame, ps: ProtocolSet, ev: Mapping[str, Any]
) -> list[tuple[str, pd.DataFrame, tuple[np.ndarray, np.ndarray] | None]]:
    """``(row name, long results table, headline (scores, labels))`` of every reference ``refs`` asks for."""
    out = []
    for key, name in REFERENCE_NAMES.items():
        if not refs.get(key):
            continue
        scorer = gender_scorer(manifest) if key == "gender" else chance_scorer()
        if scorer is None:
            log.warning("references.gender: the manifest has no gender column (prepare ... --meta): row left out")
            continue
        kinds = [k for k in ev["kinds"] if k != "retrieval"]  # constant blocks of ties: mAP says nothing here
        res = evaluate_protocols(ps, scorer, manifest, kinds=kinds, reference=bool(ev["reference"]))
        out.append((name, res, _headline_trials(ps.trials, scorer)))
    return out


def _headline_trials(trials: pd.DataFrame, scorer: FunctionScorer) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, labels) of the ROC figure's trials (``scoring.HEADLINE``: unseen-unheard V→F random)."""
    split, direction, constraint = HEADLINE
    sel = trials[(trials["split"] == split) & (trials["direction"] == direction) & (trials["constraint"] == constraint)]
    if sel.empty:
        return None
    return trial_scores(sel, scorer.pairs), sel["label"].to_numpy(np.int8)
