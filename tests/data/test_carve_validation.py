"""The one rule that holds validation identities out of ``train`` (head methods and finetune alike)."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.data.manifest import make_manifest
from facevoice.data.splits import carve_validation


def _manifest(n_ids: int = 10):
    return make_manifest(
        [
            {"item_id": f"{m}{k}_{j}", "identity": f"id{k}", "modality": m, "split": s, "video": f"v{j}"}
            for k in range(n_ids)
            for m in ("voice", "face")
            for j, s in enumerate(("train", "train", "test_seen"))
        ]
        + [{"item_id": f"u{m}", "identity": "unseen", "modality": m, "split": "test_unseen"} for m in ("voice", "face")]
    )


def test_whole_identities_move_to_val_with_their_seen_test_items():
    df = _manifest()
    out, chosen = carve_validation(df, 0.2, seed=0)
    # the draw, derived independently: numpy's choice over the sorted training identities
    expected = sorted(np.random.default_rng(0).choice(sorted(f"id{k}" for k in range(10)), 2, replace=False))
    assert chosen == expected
    assert sorted(out.loc[out.split == "val", "identity"].unique()) == expected
    assert (out.loc[out.identity.isin(expected), "split"] == "val").all()  # train AND test_seen items: 12 rows
    assert (out.split == "val").sum() == 2 * 2 * 3
    assert not set(out.loc[out.split.isin(["train", "test_seen"]), "identity"]) & set(expected)
    assert len(out) == len(df)  # nothing dropped
    untouched = ~df.identity.isin(expected)
    assert (out.loc[untouched, "split"].to_numpy() == df.loc[untouched, "split"].to_numpy()).all()


def test_at_least_two_carved_and_two_left():
    _, chosen = carve_validation(_manifest(10), 0.01, seed=3)
    assert len(chosen) == 2  # all-pairs validation needs non-target pairs: never a single identity
    _, chosen = carve_validation(_manifest(4), 0.5, seed=3)
    assert len(chosen) == 2
    with pytest.raises(ValueError, match="cannot carve 2 validation identities out of 3"):
        carve_validation(_manifest(3), 0.1, seed=0)
    with pytest.raises(ValueError, match="cannot carve"):
        carve_validation(_manifest(10), 1.0, seed=0)
