"""The matching cross-entropy of xplda against a per-row reference; masking; bad shapes."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses.matching_ce import MatchingCrossEntropyLoss
from reference.matching_ce_reference import matching_ce_reference


@pytest.mark.parametrize("labels", [[0, 1, 2, 3, 4], [0, 1, 0, 2, 1]])
def test_matching_ce_matches_reference(labels) -> None:
    s = torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = MatchingCrossEntropyLoss()(s, torch.tensor(labels))
    want = matching_ce_reference(s.tolist(), labels)
    for key in ("loss", "loss_f2v", "loss_v2f"):
        assert out[key].item() == pytest.approx(want[key], rel=1e-12)


def test_same_identity_entries_do_not_change_the_loss() -> None:
    s = torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    moved = s.clone()
    moved[0, 1] += 50.0  # face 0 vs voice 1: the same person, not the pair: masked
    loss = MatchingCrossEntropyLoss()
    assert loss(moved, labels)["loss"].item() == pytest.approx(loss(s, labels)["loss"].item(), rel=1e-12)
    moved[0, 2] += 50.0  # another person: a negative, the loss grows
    assert loss(moved, labels)["loss"].item() > loss(s, labels)["loss"].item() + 1.0


def test_matching_ce_rejects_a_non_square_matrix() -> None:
    with pytest.raises(ValueError, match="square"):
        MatchingCrossEntropyLoss()(torch.zeros(3, 4), torch.tensor([0, 1, 2]))
