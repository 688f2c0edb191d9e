"""Identity splits: which people train, validate and test. Every split in facevoice is drawn here.

* :func:`split_identities`: the corpus preparers' three-way train / val / test_unseen split, ordered by
  a seeded hash of each identity (adding an identity to a corpus does not move the others);
* :func:`hold_out_videos`: seen-heard test items (other videos of training identities);
* :func:`carve_validation`: validation identities held out of ``train`` when the data has none (the
  trainer and ``finetune`` select checkpoints on them);
* :func:`permutation_split`: the published geometry study's two-way split (a legacy numpy
  permutation), kept only so its tables reproduce;
* :func:`stratified_split_identities`: the three-way split with every part holding each stratum
  (gender, ...) in proportion; :func:`identity_folds`: ``k`` stratified identity folds (``benchmark
  --folds``); :func:`normalise_split_names`: a given identity → split table (split file, meta column).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from facevoice.data.manifest import make_manifest


def _rank(key: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def split_identities(
    identities: Iterable[str], ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
) -> dict[str, str]:
    """Identity-disjoint ``train``/``val``/``test_unseen`` assignment from ``ratios`` (normalised).

    Deterministic given ``seed`` (order by a hash of the identity), and each non-zero part gets at
    least one identity when there are enough identities.
    """
    ids = sorted(set(identities), key=lambda i: _rank(i, seed))
    if len(ratios) != 3 or min(ratios) < 0 or sum(ratios) <= 0:
        raise ValueError(f"ratios must be three non-negative numbers (train, val, test), got {ratios}")
    total = float(sum(ratios))
    n = len(ids)
    n_val = round(n * ratios[1] / total)
    n_test = round(n * ratios[2] / total)
    if n >= 3:
        n_val = max(n_val, 1 if ratios[1] > 0 else 0)
        n_test = max(n_test, 1 if ratios[2] > 0 else 0)
    n_train = n - n_val - n_test
    if n_train < 1 and ratios[0] > 0:
        raise ValueError(f"{n} identities are too few for ratios {tuple(ratios)}")
    out = dict.fromkeys(ids[:n_train], "train")
    out.update(dict.fromkeys(ids[n_train : n_train + n_val], "val"))
    out.update(dict.fromkeys(ids[n_train + n_val :], "test_unseen"))
    return out


def hold_out_videos(df: pd.DataFrame, fraction: float, seed: int = 0) -> pd.DataFrame:
    """Move about ``fraction`` of each train identity's videos (all their items, both modalities) to
    ``test_seen`` (seen-heard: same identities, disjoint videos). Items without a video id stay."""
    if fraction <= 0:
        return df
    df = df.copy()
    train = df[(df["split"] == "train") & (df["video"] != "")]
    for _, grp in train.groupby("identity"):
        videos = sorted(grp["video"].unique(), key=lambda v: _rank(v, seed))
        if len(videos) < 2:
            continue
        k = min(len(videos) - 1, max(1, round(len(videos) * fraction)))
        held = set(videos[:k])
        df.loc[grp.index[grp["video"].isin(held)], "split"] = "test_seen"
    return df


def permutation_split(ids: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded two-way identity split ``(train_ids, test_ids)``, sorted, as the published geometry study drew it.

    The study's rule, kept exactly so its per-pair tables reproduce: a legacy
    ``RandomState(seed).permutation`` of the sorted identities, the first ``int(M * (1 - test_fraction))``
    train (999 / 250 of 1,249 at 0.2; its seed was 42).
    """
    ids = np.unique(np.asarray(ids))
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    perm = ids[np.random.RandomState(seed).permutation(ids.size)]
    n_train = min(max(int(ids.size * (1.0 - test_fraction)), 2), ids.size - 2)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def carve_validation(manifest: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Move a seeded ``fraction`` of the training identities (at least 2) to ``val``; return the manifest and them.

    The rule every trainer uses when the data has no validation identities. At least two identities
    are carved, because checkpoint selection scores voice x face pairs and needs non-target pairs; at
    least two must stay in ``train``. Every item of a carved identity moves, its ``test_seen`` items
    included: the identity is no longer seen in training, so those items can no longer test seen
    people, while as validation items they still help select checkpoints (nothing is dropped).
    The draw is ``default_rng(seed).choice`` over the sorted training identities.
    """
    train_ids = sorted(set(manifest.loc[manifest["split"] == "train", "identity"]))
    n = max(2, int(round(fraction * len(train_ids))))
    if len(train_ids) - n < 2:
        raise ValueError(
            f"cannot carve {n} validation identities out of {len(train_ids)} training identities; give held-out "
            "validation data (a val split, or data.val face_csv + voice_csv) or train.selection=last"
        )
    chosen = sorted(np.random.default_rng(seed).choice(train_ids, size=n, replace=False).tolist())
    out = manifest.copy()
    move = out["identity"].isin(chosen) & out["split"].isin(["train", "test_seen"])
    out.loc[move, "split"] = "val"
    return make_manifest(pd.DataFrame(out)), chosen


# -- stratified and fixed identity splits ------------------------------------------------------------
#: names accepted for each identity-level split in a split file or a meta ``split`` column
SPLIT_NAMES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test_unseen",
    "test_unseen": "test_unseen",
    "unseen": "test_unseen",
}


def normalise_split_names(assign: dict[str, str], source: str) -> dict[str, str]:
    """Map the split names of an identity → split table (``test`` → ``test_unseen``, ``dev`` → ``val``, ...).

    ``test_seen`` is refused: it is a video-level split (``--seen-fraction``), not a set of people.
    """
    out, bad = {}, {}
    for ident, name in assign.items():
        key = str(name).strip().lower()
        if key in SPLIT_NAMES:
            out[ident] = SPLIT_NAMES[key]
        else:
            bad[ident] = name
    if bad:
        example = next(iter(bad.items()))
        raise ValueError(
            f"{source}: {len(bad)} identit{'y has' if len(bad) == 1 else 'ies have'} an unknown split, e.g. "
            f"{example[0]!r} -> {example[1]!r}; valid: train, val (dev, validation), test (test_unseen); "
            "seen-heard test items are drawn per video with --seen-fraction"
        )
    return out


def _stratified_order(identities: Iterable[str], strata: Mapping[str, str] | None, seed: int) -> list[str]:
    """Identities in an order whose every prefix mixes the strata in proportion (systematic sampling).

    Within a stratum of ``n`` identities ordered by the seeded hash, the ``r``-th gets the key
    ``(r + 0.5) / n``; sorting every identity by its key interleaves the strata, so the first ``k``
    identities hold each stratum's share of ``k`` to within one.
    """
    ids = sorted(set(identities), key=lambda i: _rank(i, seed))
    if not strata:
        return ids
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(str(strata.get(i, "")), []).append(i)
    keyed = []
    for label, members in groups.items():
        n = len(members)
        keyed += [((r + 0.5) / n, _rank(label, seed), m) for r, m in enumerate(members)]
    return [m for _, _, m in sorted(keyed)]


def stratified_split_identities(
    identities: Iterable[str],
    strata: Mapping[str, str],
    ratios: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, str]:
    """Like :func:`split_identities`, with every split holding each stratum (e.g. gender) in proportion.

    ``strata`` maps identity → stratum label (identities missing from it form one stratum of their
    own). Split sizes are those of :func:`split_identities`; test identities are taken first, then
    validation, each block a proportional mix (to within one identity per stratum). Deterministic
    given ``seed``; unlike the plain split, adding an identity can move others.
    """
    ids = sorted(set(identities))
    sizes = split_identities(ids, ratios, seed)
    n_test = sum(v == "test_unseen" for v in sizes.values())
    n_val = sum(v == "val" for v in sizes.values())
    order = _stratified_order(ids, strata, seed)
    out = dict.fromkeys(order[n_test + n_val :], "train")
    out.update(dict.fromkeys(order[:n_test], "test_unseen"))
    out.update(dict.fromkeys(order[n_test : n_test + n_val], "val"))
    return out


def identity_folds(
    identities: Iterable[str], k: int, strata: Mapping[str, str] | None = None, seed: int = 0
) -> dict[str, int]:
    """Identity → fold index ``0..k-1``: ``k`` disjoint folds of (nearly) equal size, stratified by ``strata``.

    The members of each stratum (in seeded hash order) are dealt to the folds in turn, the count
    running on from one stratum to the next: every fold gets each stratum's share to within one
    identity, and the fold sizes differ by at most one.
    """
    ids = sorted(set(identities), key=lambda i: _rank(i, seed))
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    if k > len(ids):
        raise ValueError(f"{k} folds need at least {k} identities, got {len(ids)}")
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(str((strata or {}).get(i, "")), []).append(i)
    out, turn = {}, 0
    for label in sorted(groups, key=lambda g: _rank(g, seed)):
        for ident in groups[label]:
            out[ident] = turn % k
            turn += 1
    return out
