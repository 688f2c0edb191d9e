"""Tests for the symmetric InfoNCE loss."""

from __future__ import annotations

import math

import pytest
import torch

from facevoice.losses.infonce import InfoNCELoss
from reference.infonce_reference import infonce_reference


def _batch(n: int = 6, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("mode", ["mask", "positive", "ignore"])
@pytest.mark.parametrize("with_labels", [False, True])
def test_infonce_matches_per_pair_reference(mode: str, with_labels: bool) -> None:
    a, b = _batch()
    labels = [0, 1, 0, 2, 1, 3] if with_labels else None
    loss = InfoNCELoss(temperature=0.2, same_identity=mode).double()
    out = loss(a, b, torch.tensor(labels) if labels else None)
    ref = infonce_reference(a.tolist(), b.tolist(), loss.temperature, labels, mode)
    for key in ("loss", "loss_a2b", "loss_b2a"):
        assert out[key].item() == pytest.approx(ref[key], rel=1e-9, abs=1e-12), key


def test_infonce_labels_change_the_loss_only_when_identities_repeat() -> None:
    a, b = _batch()
    loss = InfoNCELoss(temperature=0.1).double()
    plain = loss(a, b)["loss"]
    unique = loss(a, b, torch.arange(6))["loss"]
    repeated = loss(a, b, torch.tensor([0, 0, 1, 1, 2, 2]))["loss"]
    assert unique.item() == pytest.approx(plain.item(), rel=1e-12)
    assert repeated.item() < plain.item()  # fewer negatives in every row


def test_infonce_no_valid_negatives_gives_zero() -> None:
    a, b = _batch(n=4)
    loss = InfoNCELoss(same_identity="mask").double()
    assert loss(a, b, torch.zeros(4, dtype=torch.long))["loss"].item() == pytest.approx(0.0, abs=1e-12)
    assert loss(a[:1], b[:1])["loss"].item() == pytest.approx(0.0, abs=1e-12)


def test_infonce_backward_reaches_inputs_and_temperature() -> None:
    a, b = _batch()
    a.requires_grad_(True)
    b.requires_grad_(True)
    loss = InfoNCELoss(temperature=0.07).double()
    loss(a, b)["loss"].backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    assert b.grad is not None and b.grad.abs().sum() > 0
    assert loss.log_scale.grad is not None and loss.log_scale.grad.abs() > 0


def test_infonce_fixed_temperature_and_clamp() -> None:
    fixed = InfoNCELoss(temperature=0.5, learnable=False)
    assert not any(p.requires_grad for p in fixed.parameters())
    assert fixed.temperature == pytest.approx(0.5)
    clamped = InfoNCELoss(temperature=0.001, max_scale=100.0)
    assert clamped.temperature == pytest.approx(0.01)
    a, b = _batch()
    assert clamped(a.float(), b.float())["logit_scale"].item() == pytest.approx(100.0, rel=1e-5)


def test_infonce_perfect_alignment_is_near_zero_and_accuracy_one() -> None:
    a = torch.eye(4) * 3
    out = InfoNCELoss(temperature=0.01)(a, a.clone())
    assert out["loss"].item() < 1e-6
    assert out["acc_a2b"].item() == 1.0 and out["acc_b2a"].item() == 1.0
    assert out["loss"].item() < math.log(4)


def test_infonce_rejects_bad_input() -> None:
    loss = InfoNCELoss()
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="labels"):
        loss(torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="same_identity"):
        InfoNCELoss(same_identity="other")
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(temperature=0)
