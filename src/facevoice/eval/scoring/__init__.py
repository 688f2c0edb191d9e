"""The evaluation engine: score protocol lists with embeddings or a score function (``engine``,
``scorers``) and turn the results into tables (``results``)."""

from __future__ import annotations

from facevoice.eval.scoring.engine import (
    RESULT_COLUMNS,
    evaluate_embeddings,
    evaluate_protocols,
    evaluate_score_fn,
    evaluate_scores,
)
from facevoice.eval.scoring.scorers import EmbeddingScorer, FunctionScorer

__all__ = [
    "EmbeddingScorer",
    "FunctionScorer",
    "RESULT_COLUMNS",
    "evaluate_embeddings",
    "evaluate_protocols",
    "evaluate_score_fn",
    "evaluate_scores",
]
