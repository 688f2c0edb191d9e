"""Vectorised, seeded sampling primitives shared by the trial, gallery and retrieval builders.

Every builder draws from its own random stream, keyed by the protocol seed and the names of what
it builds (e.g. ``("verification", "test_unseen", "v2f", "G")``), so building a subset of the
constraints or sizes reproduces exactly the same lists for the ones built.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


def stable_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and a stable (CRC32) hash of ``keys``; ``seed`` must be >= 0."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(zlib.crc32(k.encode()) for k in keys)]))


def joint_codes(*columns: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of combined attribute values, shared between two item sets.

    Args:
        columns: one ``(a (P,), b (C,))`` pair per attribute (the same attribute of both sets).

    Returns:
        ``(codes_a (P,), codes_b (C,))`` int64: equal codes <=> equal values in every attribute
        (no string joining, so any attribute text is safe). No attributes: all zeros.
    """
    if not columns:
        raise ValueError("joint_codes needs at least one attribute")
    n_a = len(columns[0][0])
    code = np.zeros(n_a + len(columns[0][1]), dtype=np.int64)
    for a, b in columns:
        _, inv = np.unique(np.concatenate([np.asarray(a, dtype=str), np.asarray(b, dtype=str)]), return_inverse=True)
        _, code = np.unique(code * (int(inv.max(initial=0)) + 1) + inv, return_inverse=True)  # re-densify
    return code[:n_a].astype(np.int64), code[n_a:].astype(np.int64)


def sample_distinct(rng: np.random.Generator, m: np.ndarray, k: int) -> np.ndarray:
    """Row-wise sampling without replacement.

    Args:
        m: ``(P,)`` int, row i draws from ``[0, m[i])``; every ``m[i] >= k``.
        k: draws per row.

    Returns:
        ``(P, k)`` int64, each row k distinct values, uniformly distributed over the k-subsets
        (the j-th draw is uniform over the ``m - j`` values not drawn yet, mapped past them).
    """
    m = np.asarray(m, dtype=np.int64)
    if m.size and int(m.min()) < k:
        raise ValueError(f"cannot draw {k} distinct values from a range of {int(m.min())}")
    out = np.empty((m.size, k), dtype=np.int64)
    for j in range(k):
        r = rng.integers(0, m - j) if m.size else np.empty(0, dtype=np.int64)
        prev = np.sort(out[:, :j], axis=1)
        for t in range(j):  # the r-th value not drawn yet: step past every earlier draw <= it
            r = r + (r >= prev[:, t])
        out[:, j] = r
    return out


@dataclass
class Blocks:
    """Items sorted by (group code, identity code), to draw by group while excluding one identity.

    ``order (C,)`` maps sorted positions to item rows; ``code (C,)`` is the sorted composite code
    ``group * n_identities + identity``; ``identities (I,)`` the sorted distinct identities.
    """

    order: np.ndarray
    code: np.ndarray
    identities: np.ndarray

    @classmethod
    def build(cls, groups: np.ndarray, identities: np.ndarray) -> Blocks:
        """Blocks over ``C`` items from their int ``groups (C,)`` and ``identities (C,)``."""
        uniq, inv = np.unique(np.asarray(identities, dtype=str), return_inverse=True)
        code = np.asarray(groups, dtype=np.int64) * max(uniq.size, 1) + inv
        order = np.argsort(code, kind="stable")
        return cls(order, code[order], uniq)

    def span(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(start, count)`` of the sorted block of each query group ``(Q,)`` int."""
        base = np.asarray(groups, dtype=np.int64) * max(self.identities.size, 1)
        lo = np.searchsorted(self.code, base, side="left")
        return lo, np.searchsorted(self.code, base + max(self.identities.size, 1), side="left") - lo

    def draw_excluding(
        self, rng: np.random.Generator, groups: np.ndarray, identities: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``k`` distinct items of each query's group whose identity differs from the query's.

        Args:
            groups: ``(Q,)`` int query groups; identities: ``(Q,)`` query identities.

        Returns:
            ``items (Q, k)`` item rows (-1 in rows that cannot be served) and ``available (Q,)``,
            the number of eligible items of each query.
        """
        ks, kn = self.span(groups)
        identities = np.asarray(identities, dtype=str)
        pos = np.minimum(np.searchsorted(self.identities, identities), max(self.identities.size - 1, 0))
        known = (self.identities[pos] == identities) if self.identities.size else np.zeros(ks.size, dtype=bool)
        own = np.asarray(groups, dtype=np.int64) * max(self.identities.size, 1) + pos
        ps = np.where(known, np.searchsorted(self.code, own, side="left"), ks)
        pn = np.where(known, np.searchsorted(self.code, own, side="right") - ps, 0)
        avail = kn - pn
        ok = avail >= k
        items = np.full((ks.size, k), -1, dtype=np.int64)
        if ok.any():
            r = sample_distinct(rng, avail[ok], k)
            rel = (ps - ks)[ok][:, None]
            items[ok] = self.order[ks[ok][:, None] + r + (r >= rel) * pn[ok][:, None]]
        return items, avail

    def draw_one(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """One uniformly drawn item of each query's group: ``(Q,)`` item rows, -1 for empty groups."""
        ks, kn = self.span(groups)
        out = np.full(ks.size, -1, dtype=np.int64)
        ok = kn > 0
        if ok.any():
            out[ok] = self.order[ks[ok] + rng.integers(0, kn[ok])]
        return out
