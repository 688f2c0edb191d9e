"""Tests for the orthogonal projection loss."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses.opl import OrthogonalProjectionLoss
from reference.opl_reference import opl_reference


def _feats(n: int = 7, d: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("labels", [[0, 1, 0, 2, 1, 0, 3], [0, 0, 1, 1, 2, 2, 2]])
def test_opl_matches_per_pair_reference(labels: list[int]) -> None:
    x = _feats()
    out = OrthogonalProjectionLoss(gamma=0.7)(x, torch.tensor(labels))
    ref = opl_reference(x.tolist(), labels, 0.7)
    for key in ("loss", "pos_mean", "neg_mean"):
        assert out[key].item() == pytest.approx(ref[key], rel=1e-10, abs=1e-12), key


def test_opl_reference_form_divides_by_count_plus_eps() -> None:
    x, labels = _feats(), torch.tensor([0, 1, 0, 2, 1, 0, 3])
    paper = OrthogonalProjectionLoss(form="paper")(x, labels)
    ref = OrthogonalProjectionLoss(form="reference")(x, labels)
    n_pos = 8.0  # ordered same-identity pairs: label 0 (3 rows) gives 6, label 1 (2 rows) gives 2
    assert ref["pos_mean"].item() == pytest.approx(paper["pos_mean"].item() * n_pos / (n_pos + 1e-6), rel=1e-12)
    assert ref["loss"].item() != paper["loss"].item()


def test_opl_no_valid_pairs_is_defined() -> None:
    x = _feats(n=5)
    distinct = OrthogonalProjectionLoss()(x, torch.arange(5))
    assert distinct["pos_mean"].item() == 0.0
    ref = opl_reference(x.tolist(), list(range(5)))
    assert distinct["loss"].item() == pytest.approx(ref["loss"], rel=1e-12)
    assert distinct["loss"].item() >= 1.0
    same = OrthogonalProjectionLoss()(x, torch.zeros(5, dtype=torch.long))
    assert same["neg_mean"].item() == 0.0 and torch.isfinite(same["loss"])
    single = OrthogonalProjectionLoss()(x[:1], torch.zeros(1, dtype=torch.long))
    assert single["loss"].item() == pytest.approx(1.0)


def test_opl_is_zero_for_orthogonal_identities() -> None:
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    x = torch.eye(3, dtype=torch.float64)[labels] * torch.tensor([1.0, 2.0, 3.0, 0.5, 4.0, 1.5])[:, None].double()
    assert OrthogonalProjectionLoss()(x, labels)["loss"].item() == pytest.approx(0.0, abs=1e-12)


def test_opl_backward_reaches_features() -> None:
    x = _feats().requires_grad_(True)
    OrthogonalProjectionLoss()(x, torch.tensor([0, 1, 0, 2, 1, 0, 3]))["loss"].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_opl_rejects_bad_input() -> None:
    loss = OrthogonalProjectionLoss()
    with pytest.raises(ValueError, match="labels of shape"):
        loss(torch.randn(4, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer class labels"):
        loss(torch.randn(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="form"):
        OrthogonalProjectionLoss(form="fancy")
