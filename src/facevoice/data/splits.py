"""Identity splits: which people train, validate and test. Every split in facevoice is drawn here.

* :func:`split_identities`: the corpus preparers' three-way train / val / test_unseen split, ordered by
  a seeded hash of each identity (adding an identity to a corpus does not move the others);
* :func:`hold_out_videos`: seen-heard test items (other videos of training identities);
* :func:`carve_validation`: validation identities held out of ``train`` when the data has none (the
  trainer and ``finetune`` select checkpoints on them);
* :func:`permutation_split`: the published geometry study's two-way split (a legacy numpy
  permutation), kept only so its tables reproduce.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

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
