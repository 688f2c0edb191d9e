"""Scorers: how the evaluation engine turns (probe, candidate) item ids into scores.

Both scorers answer three vectorised queries, so every protocol is scored the same way whether
the scores come from embeddings or from a callable (a simulator's oracle, a method's own scoring):

* ``pairs(probe_ids (T,), cand_ids (T,), direction) -> (T,)``           verification trials
* ``galleries(probe_ids (G,), cand_ids (G, N), direction) -> (G, N)``    1:N matching
* ``matrix(probe_ids (P,), cand_ids (C,), direction) -> (P, C)``         retrieval

``direction`` is ``v2f`` (probes are voice items, candidates face items) or ``f2v``. Higher score =
more likely the same person. ``llr`` tells the engine whether the scores are log-likelihood ratios
(so calibration figures apply).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from facevoice.eval.protocols.builders import CANDIDATE_MODALITY, PROBE_MODALITY, check_direction

__all__ = ["EmbeddingScorer", "FunctionScorer", "METRICS"]

METRICS: tuple[str, ...] = ("cosine", "l2")
_CHUNK = 1 << 22  # scalar products per chunk (keeps gathered temporaries at tens of MB)


class EmbeddingScorer:
    """Scores items by cosine similarity (default) or negative L2 distance of their embeddings, or
    with a scoring back-end.

    Args:
        face, voice: ``(ids (n,), X (n, D))`` per modality; both D equal (a shared space) for the
            named metrics.
        metric: ``"cosine"`` (rows L2-normalised once), ``"l2"`` (``-||v - f||`` on raw rows), or a
            :class:`~facevoice.backends.scores.ScoreBackend` (e.g. a fitted PLDA back-end): each
            item's scoring vector is computed once, pairs and matrices are scored by the back-end.
    """

    def __init__(
        self, face: tuple[Sequence[str], np.ndarray], voice: tuple[Sequence[str], np.ndarray], metric="cosine"
    ):
        self.backend = None if isinstance(metric, str) else metric
        if self.backend is not None and not all(
            callable(getattr(metric, a, None)) for a in ("vectors", "pair_scores", "matrix_scores")
        ):
            raise ValueError(f"metric {metric!r} is neither a metric name {list(METRICS)} nor a score back-end")
        if self.backend is None and metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; valid: {list(METRICS)}")
        self.metric = metric if self.backend is None else "backend"
        self.llr = bool(getattr(self.backend, "llr", False))
        self.index: dict[str, pd.Index] = {}
        self.X: dict[str, np.ndarray] = {}
        for name, (ids, X) in (("face", face), ("voice", voice)):
            X = np.asarray(X, dtype=np.float32)
            ids = pd.Index(np.asarray(ids, dtype=str))
            if X.ndim != 2 or X.shape[0] != len(ids):
                raise ValueError(f"{name} embeddings have shape {X.shape} for {len(ids)} ids")
            if ids.has_duplicates:
                raise ValueError(f"{name} ids are not unique, e.g. {ids[ids.duplicated()][:3].tolist()}")
            bad = ~np.isfinite(X).all(axis=1)
            if bad.any():
                raise ValueError(
                    f"{name} embeddings: {int(bad.sum())} row(s) with NaN/inf, e.g. {ids[bad][:3].tolist()}"
                )
            if self.backend is not None:
                X = np.asarray(self.backend.vectors(X, name), dtype=np.float64)
            elif metric == "cosine":
                norm = np.linalg.norm(X, axis=1, keepdims=True)
                if (norm == 0).any():
                    raise ValueError(
                        f"{name} embeddings: zero vector(s) have no cosine, e.g. {ids[norm[:, 0] == 0][:3]}"
                    )
                X = X / norm
            self.index[name], self.X[name] = ids, X
        if self.backend is None and self.X["face"].shape[1] != self.X["voice"].shape[1]:
            raise ValueError(f"face dim {self.X['face'].shape[1]} != voice dim {self.X['voice'].shape[1]}")

    def ids(self, modality: str) -> set[str]:
        """The item ids of one modality."""
        return set(self.index[modality])

    def rows(self, modality: str, ids) -> np.ndarray:
        """Row indices ``(len(ids),)`` of ``ids`` in the ``modality`` matrix; raise ``KeyError`` on unknown ids."""
        ids = np.asarray(ids, dtype=str)
        idx = self.index[modality].get_indexer(ids.ravel()).reshape(ids.shape)
        if (idx < 0).any():
            missing = np.unique(ids[idx < 0])
            raise KeyError(f"{missing.size} {modality} item id(s) have no embedding, e.g. {missing[:5].tolist()}")
        return idx

    def _sides(self, direction: str) -> tuple[np.ndarray, np.ndarray, str, str]:
        check_direction(direction)
        pm, cm = PROBE_MODALITY[direction], CANDIDATE_MODALITY[direction]
        return self.X[pm], self.X[cm], pm, cm

    def _combine(self, P: np.ndarray, C: np.ndarray) -> np.ndarray:
        """Row-wise score of gathered ``P (..., D)`` and ``C (..., D)``."""
        if self.metric == "cosine":
            return np.einsum("...d,...d->...", P, C)
        return -np.linalg.norm(P - C, axis=-1)

    def _backend_pairs(self, XP, XC, pm: str) -> np.ndarray:
        face, voice = (XP, XC) if pm == "face" else (XC, XP)
        return np.asarray(self.backend.pair_scores(face, voice), dtype=np.float64)

    def pairs(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(T,)`` of trials ``(probe_ids[t], cand_ids[t])``."""
        XP, XC, pm, cm = self._sides(direction)
        pi, ci = self.rows(pm, probe_ids), self.rows(cm, cand_ids)
        out = np.empty(pi.size, dtype=np.float64)
        if self.backend is not None:
            step = max(1, _CHUNK // max(XP.shape[1], 1))
            for a in range(0, pi.size, step):
                out[a : a + step] = self._backend_pairs(XP[pi[a : a + step]], XC[ci[a : a + step]], pm)
            return out
        step = max(1, _CHUNK // XP.shape[1])
        for a in range(0, pi.size, step):
            out[a : a + step] = self._combine(XP[pi[a : a + step]], XC[ci[a : a + step]])
        return out

    def galleries(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(G, N)`` of each gallery's probe ``(G,)`` against its candidates ``(G, N)``."""
        XP, XC, pm, cm = self._sides(direction)
        pi, ci = self.rows(pm, probe_ids), self.rows(cm, cand_ids)
        if self.backend is not None:
            flat = self.pairs(
                np.repeat(np.asarray(probe_ids, dtype=str), ci.shape[1]), np.asarray(cand_ids, str).ravel(), direction
            )
            return flat.reshape(ci.shape)
        out = np.empty(ci.shape, dtype=np.float64)
        step = max(1, _CHUNK // (XP.shape[1] * max(ci.shape[1], 1)))
        for a in range(0, pi.size, step):
            out[a : a + step] = self._combine(XP[pi[a : a + step]][:, None, :], XC[ci[a : a + step]])
        return out

    def matrix(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(P, C)`` of every probe against every candidate."""
        XP, XC, pm, cm = self._sides(direction)
        P, C = XP[self.rows(pm, probe_ids)], XC[self.rows(cm, cand_ids)]
        if self.backend is not None:
            if pm == "face":
                return np.asarray(self.backend.matrix_scores(P, C), dtype=np.float64)
            return np.asarray(self.backend.matrix_scores(C, P), dtype=np.float64).T
        S = (P @ C.T).astype(np.float64)
        if self.metric == "l2":
            sq = (P * P).sum(1)[:, None] + (C * C).sum(1)[None, :] - 2.0 * S
            S = -np.sqrt(np.maximum(sq, 0.0))
        return S


class FunctionScorer:
    """Wraps ``score_fn(probe_ids (T,), cand_ids (T,), direction) -> (T,)`` into the scorer queries.

    Galleries and retrieval matrices are flattened into pair lists (in chunks of ``chunk`` pairs)
    and reshaped, so a method or an oracle is evaluated exactly like embeddings are. ``llr``: the
    callable returns log-likelihood ratios.
    """

    def __init__(
        self, score_fn: Callable[[np.ndarray, np.ndarray, str], np.ndarray], chunk: int = 1 << 20, llr: bool = False
    ):
        self.score_fn = score_fn
        self.chunk = int(chunk)
        self.llr = bool(llr)

    def pairs(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(T,)``; checks the callable returns T finite values."""
        check_direction(direction)
        p, c = np.asarray(probe_ids, dtype=str), np.asarray(cand_ids, dtype=str)
        out = np.empty(p.size, dtype=np.float64)
        for a in range(0, p.size, self.chunk):
            s = np.asarray(self.score_fn(p[a : a + self.chunk], c[a : a + self.chunk], direction), dtype=np.float64)
            if s.shape != (min(self.chunk, p.size - a),):
                raise ValueError(f"score_fn returned shape {s.shape} for {min(self.chunk, p.size - a)} pairs")
            if not np.isfinite(s).all():
                raise ValueError(f"score_fn returned {int((~np.isfinite(s)).sum())} non-finite score(s)")
            out[a : a + s.size] = s
        return out

    def galleries(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(G, N)`` via one flattened pair list."""
        c = np.asarray(cand_ids, dtype=str)
        p = np.repeat(np.asarray(probe_ids, dtype=str), c.shape[1])
        return self.pairs(p, c.ravel(), direction).reshape(c.shape)

    def matrix(self, probe_ids, cand_ids, direction: str) -> np.ndarray:
        """Scores ``(P, C)`` via the cartesian product, in row chunks."""
        p, c = np.asarray(probe_ids, dtype=str), np.asarray(cand_ids, dtype=str)
        out = np.empty((p.size, c.size), dtype=np.float64)
        rows = max(1, self.chunk // max(c.size, 1))
        for a in range(0, p.size, rows):
            blk = p[a : a + rows]
            out[a : a + blk.size] = self.pairs(np.repeat(blk, c.size), np.tile(c, blk.size), direction).reshape(
                blk.size, c.size
            )
        return out
