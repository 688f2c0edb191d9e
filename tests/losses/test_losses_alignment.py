"""Tests for the PAEFF hyperbolic alignment loss and the SSoS alignment loss."""

from __future__ import annotations

import math

import geoopt
import pytest
import torch

from facevoice.losses.hyperbolic_alignment import HyperbolicAlignmentLoss, pairwise_poincare_distance
from facevoice.losses.ssos_alignment import SSoSAlignmentLoss
from reference.hyperbolic_alignment_reference import alignment_reference, poincare_distance
from reference.ssos_alignment_reference import ssos_alignment_reference

C = 0.05


def _ball_points(n: int = 5, d: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ball = geoopt.PoincareBall(c=C)
    a = ball.expmap0(torch.randn(n, d, generator=g, dtype=torch.float64))
    b = ball.expmap0(torch.randn(n, d, generator=g, dtype=torch.float64))
    return a, b


def test_pairwise_distance_matches_geoopt_and_mobius_reference() -> None:
    a, b = _ball_points()
    ours = pairwise_poincare_distance(a, b, C)
    theirs = geoopt.PoincareBall(c=C).dist(a[:, None, :], b[None, :, :])
    # geoopt clamps artanh's argument at 1 - 1e-7, which costs it ~1e-7 relative accuracy at large distances.
    assert torch.allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    for i in range(len(a)):
        for j in range(len(b)):
            assert ours[i, j].item() == pytest.approx(poincare_distance(a[i].tolist(), b[j].tolist(), C), rel=1e-10)


@pytest.mark.parametrize("similarity", ["hyperbolic", "euclidean_dot", "cosine"])
def test_alignment_matches_reference(similarity: str) -> None:
    a, b = _ball_points()
    out = HyperbolicAlignmentLoss(c=C, temperature=0.07, similarity=similarity)(a, b)
    ref = alignment_reference(a.tolist(), b.tolist(), C, 0.07, similarity)
    for key in ("loss", "loss_a2b", "loss_b2a"):
        assert out[key].item() == pytest.approx(ref[key], rel=1e-8), key


def test_alignment_single_pair_has_no_negatives() -> None:
    a, b = _ball_points(n=1)
    assert HyperbolicAlignmentLoss()(a, b)["loss"].item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("similarity", ["hyperbolic", "euclidean_dot"])
def test_alignment_backward_is_finite_even_for_identical_points(similarity: str) -> None:
    a, b = _ball_points()
    b = torch.cat([a[:2], b[2:]]).detach().float().requires_grad_(True)
    a = a.detach().float().requires_grad_(True)
    HyperbolicAlignmentLoss(similarity=similarity)(a, b)["loss"].backward()
    for t in (a, b):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_alignment_rejects_points_outside_the_ball() -> None:
    far = torch.full((2, 3), 10.0)
    with pytest.raises(ValueError, match="outside the Poincaré ball"):
        HyperbolicAlignmentLoss()(far, far)
    with pytest.raises(ValueError, match="similarity"):
        HyperbolicAlignmentLoss(similarity="l1")


def _pair(n: int = 6, d: int = 4, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("with_labels", [False, True])
@pytest.mark.parametrize("with_weights", [False, True])
def test_ssos_alignment_matches_reference(with_labels: bool, with_weights: bool) -> None:
    a, b = _pair()
    labels = [0, 1, 0, 2, 3, 1] if with_labels else None
    weights = [0.5, 1.5, 0.0, 2.0, 1.0, 1.0] if with_weights else None
    out = SSoSAlignmentLoss(5.4)(
        a, b, torch.tensor(labels) if labels else None, torch.tensor(weights, dtype=torch.float64) if weights else None
    )
    ref = ssos_alignment_reference(a.tolist(), b.tolist(), 5.4, labels, weights)
    assert out["loss"].item() == pytest.approx(ref, rel=1e-10)


def test_ssos_alignment_no_negatives_gives_log_offset() -> None:
    a, b = _pair()
    loss = SSoSAlignmentLoss(5.4)
    assert loss(a[:1], b[:1])["loss"].item() == pytest.approx(math.log(5.4), rel=1e-12)
    assert loss(a, b, torch.zeros(6, dtype=torch.long))["loss"].item() == pytest.approx(math.log(5.4), rel=1e-12)


def test_ssos_alignment_backward_reaches_both_inputs() -> None:
    a, b = _pair()
    a.requires_grad_(True)
    b.requires_grad_(True)
    SSoSAlignmentLoss()(a, b)["loss"].backward()
    for t in (a, b):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_ssos_alignment_is_small_when_aligned() -> None:
    a = torch.eye(4, dtype=torch.float64) * 20
    aligned = SSoSAlignmentLoss()(a, a.clone())["loss"].item()
    shuffled = SSoSAlignmentLoss()(a, a[[1, 2, 3, 0]])["loss"].item()
    assert aligned == pytest.approx(math.log(5.4), abs=1e-6) and shuffled > 10
