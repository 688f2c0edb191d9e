"""Scoring for ``facevoice benchmark``: a trained method's embeddings, or the simulator oracle, on every protocol.

A method is scored with its own score back-end (:meth:`Method.score_backend`: cosine for the
published methods, the PLDA log-likelihood ratio for ``plda`` / ``xplda``); :func:`extra_rows`
adds the rows of its ablation back-ends (``<method>-<name>``) and, on request, the PLDA back-end
fitted on its embeddings (``<method>+plda``). Every verification list gets calibration figures
(Cllr, min Cllr, actual DCF; meaningful as such for LLR scores only, see ``score_kinds``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from facevoice.backends.scores import CosineScore, ScoreBackend
from facevoice.eval.protocols.protocol_set import ProtocolSet
from facevoice.eval.scoring.engine import evaluate_protocols
from facevoice.eval.scoring.scorers import EmbeddingScorer
from facevoice.methods.plda import PLDA_DEFAULTS, fit_plda
from facevoice.pipelines.run import val_eer
from facevoice.runs.loading import embed_array

HEADLINE = ("test_unseen", "v2f", "random")  # split, direction, constraint of the ROC figure


def evaluate_method(
    method, bundle, ps, ev: Mapping[str, Any], device: str = "cpu", backend: ScoreBackend | None = None
):
    """Long results table of ``method.embed`` on every protocol, headline (scores, labels), trial scores.

    Pairs are scored by ``backend`` (default: the method's :meth:`score_backend`). The trial scores
    ``(T,)`` are row-aligned with ``ps.trials`` (for paired comparisons).
    """
    backend = method.score_backend() if backend is None else backend
    sides = _test_sides(bundle, ps, lambda X, m: embed_array(method, X, m, device=device))
    return _evaluate_sides(sides, backend, bundle, ps, ev)


def _test_sides(bundle, ps, embed_fn) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    wanted = set(ps.items["item_id"])
    sides = {}
    for m in ("face", "voice"):
        rows = bundle.rows(m)
        mask = rows["item_id"].isin(wanted).to_numpy()
        sides[m] = (rows.loc[mask, "item_id"].to_numpy(str), embed_fn(bundle.embeddings[m][mask], m))
    return sides


def _evaluate_sides(sides, backend: ScoreBackend, bundle, ps, ev):
    metric = "cosine" if isinstance(backend, CosineScore) else backend
    scorer = EmbeddingScorer(sides["face"], sides["voice"], metric)
    res = evaluate_protocols(
        ps, scorer, bundle.manifest, kinds=ev["kinds"], reference=bool(ev["reference"]), calibration=True
    )
    scores = trial_scores(ps.trials, scorer.pairs)
    return res, _headline(ps.trials, scores), scores


def evaluate_with_plda(method, bundle, ps, ev: Mapping[str, Any], device: str = "cpu", carved=()):
    """The PLDA back-end fitted on ``method``'s (L2-normalised) embeddings of the training items, its
    settings chosen on the validation identities (the ``val`` split, or the identities the run carved
    out of training), then scored on every protocol. Returns (results, headline, trial scores, summary)."""
    cos = CosineScore()
    emb = {m: cos.vectors(embed_array(method, bundle.embeddings[m], m, device=device), m) for m in ("face", "voice")}
    carved = set(carved)
    arrays: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {"train": {}, "val": {}}
    for m in ("face", "voice"):
        rows = bundle.rows(m)
        split = np.where(rows["identity"].isin(carved), "val", rows["split"].to_numpy(str))
        for name in ("train", "val"):
            keep = split == name
            arrays[name][m] = (emb[m][keep], rows.loc[keep, "identity"].to_numpy(str))
    has_val = all(len(arrays["val"][m][0]) for m in ("face", "voice"))
    backend, summary = fit_plda(arrays["train"], arrays["val"] if has_val else None, PLDA_DEFAULTS, val_eer)
    lookup = {m: dict(zip(bundle.rows(m)["item_id"], range(len(emb[m])), strict=True)) for m in ("face", "voice")}
    sides = _test_sides(bundle, ps, lambda X, m: X)  # ids of the test items; embeddings swapped in below
    sides = {m: (ids, emb[m][[lookup[m][i] for i in ids]]) for m, (ids, _) in sides.items()}
    return (*_evaluate_sides(sides, backend, bundle, ps, ev), summary)


def extra_rows(name: str, method, bundle, ps, ev: Mapping[str, Any], device: str, info: Mapping[str, Any], plda: bool):
    """Extra benchmark rows of one run: ``(row name, results, headline, trial scores, score kind)`` for each
    of the method's ablation back-ends and, with ``plda`` (and a cosine-scored method), ``<name>+plda``."""
    out = []
    for key, backend in method.ablation_backends().items():
        res, head, scores = evaluate_method(method, bundle, ps, ev, device, backend=backend)
        out.append((f"{name}-{key}", res, head, scores, "llr" if backend.llr else "cosine"))
    if plda and not method.score_backend().llr:
        res, head, scores, _ = evaluate_with_plda(method, bundle, ps, ev, device, info.get("carved_val_identities", ()))
        out.append((f"{name}+plda", res, head, scores, "llr"))
    return out


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

    llr = True  # the oracle's scores are exact log-likelihood ratios

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
        parts.append(
            evaluate_protocols(sub, OracleScorer(oracle, con), manifest, kinds=["verification"], calibration=True)
        )
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
