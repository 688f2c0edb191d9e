"""Search results: ranked items, the per-identity aggregate, and their JSON / table forms.

A query either has results (``status == "ok"``) or a reason it could not be searched
(``status == "skipped"``, with the reason code and a detail line naming the file). Scores are cosine
similarities in the run's embedding space (higher = more likely the same person).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

AGGREGATES = ("best", "mean")
TABLE_COLUMNS = (
    "query",
    "status",
    "reason",
    "detail",
    "level",
    "rank",
    "identity",
    "score",
    "item_id",
    "path",
    "n_items",
)


@dataclass
class Hit:
    """One indexed item in a ranking."""

    rank: int
    item_id: str
    identity: str
    path: str
    score: float
    row: int


@dataclass
class IdentityHit:
    """One identity in the aggregate ranking: ``score`` is the best (or mean) score over its items."""

    rank: int
    identity: str
    score: float
    n_items: int
    best_item_id: str
    best_path: str
    best_score: float


@dataclass
class QueryResult:
    """Results (or the skip reason) of one query."""

    query: str
    status: str = "ok"
    modality: str = ""
    reason: str = ""
    detail: str = ""
    hits: list[Hit] = field(default_factory=list)
    identities: list[IdentityHit] = field(default_factory=list)

    @classmethod
    def skipped(cls, query: str, reason: str, detail: str, modality: str = "") -> QueryResult:
        return cls(str(query), "skipped", modality, reason, detail)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (finite floats only)."""
        d = {"query": self.query, "status": self.status, "modality": self.modality}
        if self.ok:
            d["results"] = [_finite(asdict(h)) for h in self.hits]
            d["identities"] = [_finite(asdict(h)) for h in self.identities]
        else:
            d.update(reason=self.reason, detail=self.detail)
        return d

    def skip_line(self) -> str:
        """``skip: <query>: <reason>: <detail>`` for logs and the console."""
        return f"skip: {self.query}: {self.reason}: {self.detail}"


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"non-finite {k} in a search result: {d}")
    return d


def results_table(results: list[QueryResult]) -> pd.DataFrame:
    """One row per (query, level, rank): item rankings (``level = item``) and identity rankings
    (``level = identity``); a skipped query gets one row with its reason."""
    rows: list[dict[str, Any]] = []
    for r in results:
        base = {"query": r.query, "status": r.status, "reason": r.reason, "detail": r.detail}
        if not r.ok:
            rows.append(base)
            continue
        for h in r.hits:
            rows.append(
                {**base, "level": "item", "rank": h.rank, "identity": h.identity, "score": h.score,
                 "item_id": h.item_id, "path": h.path, "n_items": 1}
            )  # fmt: skip
        for h in r.identities:
            rows.append(
                {**base, "level": "identity", "rank": h.rank, "identity": h.identity, "score": h.score,
                 "item_id": h.best_item_id, "path": h.best_path, "n_items": h.n_items}
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return table.astype({"rank": "Int64", "n_items": "Int64"})  # integers, empty for skipped queries
