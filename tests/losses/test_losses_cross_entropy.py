"""Tests for the (weighted) cross-entropy wrapper."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses.cross_entropy import CrossEntropyLoss
from reference.cross_entropy_reference import cross_entropy_reference


def _logits() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 4, generator=g, dtype=torch.float64), torch.tensor([0, 3, 1, 1, 2])


@pytest.mark.parametrize("weights", [None, [0.5, 1.0, 2.0, 0.0, 1.5]])
def test_cross_entropy_matches_reference(weights) -> None:
    z, y = _logits()
    w = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    out = CrossEntropyLoss()(z, y, w)
    assert out["loss"].item() == pytest.approx(cross_entropy_reference(z.tolist(), y.tolist(), weights), rel=1e-12)


def test_cross_entropy_all_zero_weights_is_zero_and_backward_is_finite() -> None:
    z, y = _logits()
    z.requires_grad_(True)
    assert CrossEntropyLoss()(z, y, torch.zeros(5, dtype=torch.float64))["loss"].item() == 0.0
    CrossEntropyLoss()(z, y)["loss"].backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_cross_entropy_rejects_bad_input() -> None:
    z, y = _logits()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        CrossEntropyLoss()(z, torch.tensor([0, 4, 1, 1, 2]))
    with pytest.raises(ValueError, match="per-sample weights"):
        CrossEntropyLoss()(z, y, torch.ones(3))
