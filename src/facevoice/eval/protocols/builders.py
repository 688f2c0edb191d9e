"""Builders of the three evaluation protocols over one pool of manifest items (one split).

A *pool* is the manifest rows of one split (or of a language subset of it), both modalities.
``direction`` ``v2f`` takes voice items as probes and face items as candidates, ``f2v`` the
reverse. Probes that a protocol cannot serve are never dropped silently: each builder returns
skip records ``(protocol, split, direction, constraint, probe_id, reason)``.

* :func:`build_verification`: every probe gets one positive (a random candidate of its identity,
  shared by all constraints) and ``n_neg`` distinct negatives per constraint, drawn uniformly among
  the candidates of other identities that share the probe's constrained attributes.
* :func:`build_galleries`: probe + N candidates, exactly one of the probe's identity and N-1 from
  N-1 distinct other identities (one random item each), the target at a uniform random position.
* :func:`build_retrieval`: every probe against every candidate of the pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facevoice.eval.protocols.sampling import Blocks, joint_codes, sample_distinct, stable_rng

CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "random": (),
    "G": ("gender",),
    "N": ("nationality",),
    "A": ("age_band",),
    "GNA": ("gender", "nationality", "age_band"),
}
DIRECTIONS: tuple[str, ...] = ("v2f", "f2v")
PROBE_MODALITY: dict[str, str] = {"v2f": "voice", "f2v": "face"}
CANDIDATE_MODALITY: dict[str, str] = {"v2f": "face", "f2v": "voice"}
TRIAL_COLUMNS: tuple[str, ...] = ("probe_id", "candidate_id", "label", "direction", "constraint", "split")
GALLERY_COLUMNS: tuple[str, ...] = ("gallery_id", "split", "direction", "n", "probe_id", "target_pos", "candidates")
RETRIEVAL_COLUMNS: tuple[str, ...] = ("split", "direction", "role", "item_id")
SKIP_COLUMNS: tuple[str, ...] = ("protocol", "split", "direction", "constraint", "probe_id", "reason")


def check_direction(direction: str) -> None:
    """Raise ``ValueError`` unless ``direction`` is ``v2f`` or ``f2v``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; valid: {list(DIRECTIONS)}")


def _sides(pool: pd.DataFrame, direction: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    check_direction(direction)
    probes = pool[pool["modality"] == PROBE_MODALITY[direction]].reset_index(drop=True)
    cands = pool[pool["modality"] == CANDIDATE_MODALITY[direction]].reset_index(drop=True)
    return probes, cands


def _skips(protocol: str, split: str, direction: str, constraint: str, probe_ids, reason: str) -> list[dict]:
    return [
        dict(protocol=protocol, split=split, direction=direction, constraint=constraint, probe_id=p, reason=reason)
        for p in probe_ids
    ]


def _arr(df: pd.DataFrame, col: str) -> np.ndarray:
    return df[col].to_numpy(dtype=str)


def build_verification(
    pool: pd.DataFrame, split: str, direction: str, constraints=tuple(CONSTRAINTS), n_neg: int = 1, seed: int = 0
) -> tuple[pd.DataFrame, list[dict]]:
    """Verification trials of one pool and direction.

    Returns:
        trials ``(T, 6)`` with :data:`TRIAL_COLUMNS` (per probe: the positive, then its negatives)
        and skip records (``no_positive``; ``missing_<attr>`` when the probe lacks a constrained
        attribute; ``no_negative`` / ``too_few_negatives`` when fewer than ``n_neg`` candidates qualify).
    """
    unknown = [c for c in constraints if c not in CONSTRAINTS]
    if unknown:
        raise ValueError(f"unknown constraint(s) {unknown}; valid: {list(CONSTRAINTS)}")
    if int(n_neg) != n_neg or n_neg < 1:
        raise ValueError(f"n_neg must be a positive integer, got {n_neg!r}")
    probes, cands = _sides(pool, direction)
    p_ids, p_ident = _arr(probes, "item_id"), _arr(probes, "identity")
    c_ids, c_ident = _arr(cands, "item_id"), _arr(cands, "identity")
    skips: list[dict] = []
    p_code, c_code = joint_codes((p_ident, c_ident))
    pos = Blocks.build(c_code, c_ident).draw_one(stable_rng(seed, "verification", split, direction, "pos"), p_code)
    has_pos = pos >= 0
    skips += _skips("verification", split, direction, "*", p_ids[~has_pos], "no_positive")
    frames = []
    for con in constraints:
        attrs = CONSTRAINTS[con]
        ok = has_pos.copy()
        for a in attrs:
            missing = ok & (_arr(probes, a) == "")
            skips += _skips("verification", split, direction, con, p_ids[missing], f"missing_{a}")
            ok &= ~missing
        if attrs:
            p_key, c_key = joint_codes(*((_arr(probes, a), _arr(cands, a)) for a in attrs))
        else:
            p_key, c_key = np.zeros(len(probes), dtype=np.int64), np.zeros(len(cands), dtype=np.int64)
        rng = stable_rng(seed, "verification", split, direction, con)
        sel = np.flatnonzero(ok)
        neg, avail = Blocks.build(c_key, c_ident).draw_excluding(rng, p_key[sel], p_ident[sel], int(n_neg))
        short = avail < n_neg
        for reason, mask in (("no_negative", avail == 0), ("too_few_negatives", short & (avail > 0))):
            skips += _skips("verification", split, direction, con, p_ids[sel[mask]], reason)
        sel, neg = sel[~short], neg[~short]
        cand_rows = np.concatenate([pos[sel][:, None], neg], axis=1)
        labels = np.zeros(cand_rows.shape, dtype=np.int8)
        labels[:, 0] = 1
        frames.append(
            pd.DataFrame(
                {
                    "probe_id": np.repeat(p_ids[sel], cand_rows.shape[1]),
                    "candidate_id": c_ids[cand_rows.ravel()] if cand_rows.size else np.empty(0, dtype=str),
                    "label": labels.ravel(),
                    "direction": direction,
                    "constraint": con,
                    "split": split,
                }
            )
        )
    trials = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(TRIAL_COLUMNS))
    return trials, skips


def build_galleries(
    pool: pd.DataFrame, split: str, direction: str, sizes=range(2, 11), n_galleries: int | None = None, seed: int = 0
) -> tuple[pd.DataFrame, list[dict]]:
    """1:N galleries of one pool and direction for each N in ``sizes``.

    Args:
        n_galleries: galleries per N; None = one per eligible probe; fewer than the eligible probes
            = a random subset of them (no repeats); more = probes drawn with replacement.

    Returns:
        galleries with :data:`GALLERY_COLUMNS` (``candidates`` a list of N item ids, ``target_pos``
        the index of the one of the probe's identity) and skip records (``no_positive``,
        ``too_few_identities`` when fewer than N-1 other identities have candidates).
    """
    probes, cands = _sides(pool, direction)
    p_ids, p_ident = _arr(probes, "item_id"), _arr(probes, "identity")
    c_ids, c_ident = _arr(cands, "item_id"), _arr(cands, "identity")
    uniq, inv = np.unique(c_ident, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    start = np.searchsorted(inv[order], np.arange(uniq.size))
    count = np.bincount(inv, minlength=uniq.size)
    q = np.minimum(np.searchsorted(uniq, p_ident), max(uniq.size - 1, 0))
    has_pos = (uniq[q] == p_ident) if uniq.size else np.zeros(len(p_ids), dtype=bool)
    skips = _skips("matching", split, direction, "*", p_ids[~has_pos], "no_positive")
    frames = []
    for n in sizes:
        n = int(n)
        if n < 2:
            raise ValueError(f"gallery size must be >= 2, got {n}")
        if uniq.size - 1 < n - 1:
            skips += _skips("matching", split, direction, f"N={n}", p_ids[has_pos], "too_few_identities")
            continue
        rng = stable_rng(seed, "matching", split, direction, str(n))
        elig = np.flatnonzero(has_pos)
        if n_galleries is None:
            chosen = elig
        else:
            chosen = np.sort(rng.choice(elig, int(n_galleries), replace=int(n_galleries) > elig.size))
        G = chosen.size
        other = sample_distinct(rng, np.full(G, uniq.size - 1), n - 1)
        other = other + (other >= q[chosen][:, None])
        distract = order[start[other] + rng.integers(0, count[other])]
        target = order[start[q[chosen]] + rng.integers(0, count[q[chosen]])]
        t = rng.integers(0, n, size=G)
        cols = np.arange(n)[None, :]
        d_col = np.clip(cols - (cols > t[:, None]), 0, n - 2)
        rows = np.where(cols == t[:, None], target[:, None], np.take_along_axis(distract, d_col, axis=1))
        frames.append(
            pd.DataFrame(
                {
                    "gallery_id": [f"{split}:{direction}:{n}:{j}" for j in range(G)],
                    "split": split,
                    "direction": direction,
                    "n": n,
                    "probe_id": p_ids[chosen],
                    "target_pos": t.astype(np.int64),
                    "candidates": c_ids[rows].tolist(),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(GALLERY_COLUMNS))
    return out, skips


def build_retrieval(pool: pd.DataFrame, split: str, direction: str) -> tuple[pd.DataFrame, list[dict]]:
    """Retrieval list: probes (``role == "probe"``) and candidates (``role == "candidate"``).

    Returns:
        rows with :data:`RETRIEVAL_COLUMNS` and skip records (``no_relevant``: a probe whose
        identity has no candidate, for which average precision is undefined).
    """
    probes, cands = _sides(pool, direction)
    relevant = probes["identity"].isin(set(cands["identity"])).to_numpy()
    skips = _skips("retrieval", split, direction, "all", _arr(probes, "item_id")[~relevant], "no_relevant")
    if not relevant.any():  # nothing to rank (no probe, or no candidate of any probe's identity)
        return pd.DataFrame(columns=list(RETRIEVAL_COLUMNS)), skips
    ids = np.concatenate([_arr(probes, "item_id")[relevant], _arr(cands, "item_id")])
    roles = ["probe"] * int(relevant.sum()) + ["candidate"] * len(cands)
    out = pd.DataFrame({"split": split, "direction": direction, "role": roles, "item_id": ids})
    return out, skips
