"""Scoring for ``facevoice benchmark``: a trained method's embeddings, or the simulator oracle, on every protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from facevoice.eval.protocols.protocol_set import ProtocolSet
from facevoice.eval.scoring.engine import evaluate_protocols
from facevoice.eval.scoring.scorers import EmbeddingScorer
from facevoice.runs.loading import embed_array

HEADLINE = ("test_unseen", "v2f", "random")  # split, direction, constraint of the ROC figure


def evaluate_method(method, bundle, ps, ev: Mapping[str, Any], device: str = "cpu"):
    """Long results table of ``method.embed`` on every protocol, headline (scores, labels), trial scores.

    The trial scores ``(T,)`` are row-aligned with ``ps.trials`` (for paired comparisons).
    """

    wanted = set(ps.items["item_id"])
    sides = {}
    for m in ("face", "voice"):
        rows = bundle.rows(m)
        mask = rows["item_id"].isin(wanted).to_numpy()
        sides[m] = (
            rows.loc[mask, "item_id"].to_numpy(str),
            embed_array(method, bundle.embeddings[m][mask], m, device=device),
        )
    scorer = EmbeddingScorer(sides["face"], sides["voice"], "cosine")
    res = evaluate_protocols(ps, scorer, bundle.manifest, kinds=ev["kinds"], reference=bool(ev["reference"]))
    scores = trial_scores(ps.trials, scorer.pairs)
    return res, _headline(ps.trials, scores), scores


def trial_scores(trials: pd.DataFrame, pair_fn) -> np.ndarray:
    """Scores ``(T,)`` of every row of ``trials``, one ``pair_fn`` call per direction."""
    out = np.full(len(trials), np.nan)
    for direction, idx in trials.groupby("direction", sort=False).indices.items():
        sub = trials.iloc[idx]
        out[idx] = pair_fn(sub["probe_id"].to_numpy(str), sub["candidate_id"].to_numpy(str), direction)
    return out


def _headline(trials: pd.DataFrame, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(scores, labels) of the ROC figure's trials (:data:`HEADLINE`) out of row-aligned ``scores``."""
    sel = (
        (trials["split"] == HEADLINE[0]) & (trials["direction"] == HEADLINE[1]) & (trials["constraint"] == HEADLINE[2])
    ).to_numpy()
    if not sel.any():
        return None
    return np.asarray(scores, np.float64)[sel], trials["label"].to_numpy(np.int8)[sel]


class OracleScorer:
    """The simulator oracle behind the evaluation engine's scorer interface, for one trial constraint.

    ``pairs`` / ``galleries`` score item pairs; ``matrix`` uses the oracle's own matrix form (one
    mixture evaluation for a whole retrieval split instead of one per chunk of pairs).
    """

    def __init__(self, oracle, constraint: str = "random") -> None:
        self.oracle, self.constraint = oracle, None if constraint == "random" else constraint

    def pairs(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        face, voice = (cand_ids, probe_ids) if direction == "v2f" else (probe_ids, cand_ids)
        return np.asarray(self.oracle.scores(face, voice, constraint=self.constraint), np.float64)

    def galleries(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        c = np.asarray(cand_ids, dtype=str)
        p = np.repeat(np.asarray(probe_ids, dtype=str), c.shape[1])
        return self.pairs(p, c.ravel(), direction).reshape(c.shape)

    def matrix(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        if direction == "v2f":  # score_matrix is (faces, voices)
            return self.oracle.score_matrix(cand_ids, probe_ids, constraint=self.constraint).T
        return self.oracle.score_matrix(probe_ids, cand_ids, constraint=self.constraint)


def evaluate_oracle(oracle, ps, manifest: pd.DataFrame, ev: Mapping[str, Any]):
    """The simulator oracle on the same protocols: per split (seen / prior mode) and per constraint."""

    parts = []
    for (_split, con), t in ps.trials.groupby(["split", "constraint"], sort=False):
        sub = ProtocolSet(trials=t.reset_index(drop=True), items=ps.items)
        parts.append(evaluate_protocols(sub, OracleScorer(oracle, con), manifest, kinds=["verification"]))
    for _split, g in ps.galleries.groupby("split", sort=False):
        sub = ProtocolSet(galleries=g.reset_index(drop=True), items=ps.items)
        parts.append(evaluate_protocols(sub, OracleScorer(oracle), manifest, kinds=["matching"]))
    if "retrieval" in ev["kinds"]:
        for _split, r in ps.retrieval.groupby("split", sort=False):
            sub = ProtocolSet(retrieval=r.reset_index(drop=True), items=ps.items)
            parts.append(evaluate_protocols(sub, OracleScorer(oracle), manifest, kinds=["retrieval"]))
    tr = ps.trials
    head = tr[(tr["split"] == HEADLINE[0]) & (tr["direction"] == HEADLINE[1]) & (tr["constraint"] == HEADLINE[2])]
    headline = _headline(head, trial_scores(head, OracleScorer(oracle, HEADLINE[2]).pairs))
    return pd.concat(parts, ignore_index=True), headline
