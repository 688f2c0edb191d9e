"""Tests for the center and git losses (SBNet)."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses.center import CenterLoss
from facevoice.losses.git import GitLoss
from reference.center_reference import center_reference, center_update_reference
from reference.git_reference import git_push_reference

LABELS = [0, 2, 1, 2, 0, 3]


def _setup(cls=CenterLoss, **kw):
    g = torch.Generator().manual_seed(1)
    loss = cls(4, 5, **kw).double()
    loss.centers.copy_(torch.randn(4, 5, generator=g, dtype=torch.float64))
    return loss, torch.randn(6, 5, generator=g, dtype=torch.float64), torch.tensor(LABELS)


@pytest.mark.parametrize("form", ["paper", "reference_tf"])
def test_center_matches_reference(form: str) -> None:
    loss, x, y = _setup(form=form, weight=0.3)
    loss.eval()
    ref = center_reference(x.tolist(), LABELS, loss.centers.tolist(), form)
    out = loss(x, y)
    assert out["center"].item() == pytest.approx(ref, rel=1e-12)
    assert out["loss"].item() == pytest.approx(0.3 * ref, rel=1e-12)


def test_center_update_matches_reference_and_only_in_training() -> None:
    loss, x, y = _setup(center_lr=0.5)
    before = loss.centers.clone()
    loss.eval()
    loss(x, y)
    assert torch.equal(loss.centers, before)
    loss.train()
    loss(x, y)
    expected = torch.tensor(center_update_reference(x.tolist(), LABELS, before.tolist(), 0.5), dtype=torch.float64)
    assert torch.allclose(loss.centers, expected, atol=1e-12)
    frozen, x, y = _setup(update_centers=False)
    c0 = frozen.centers.clone()
    frozen.train()(x, y)
    assert torch.equal(frozen.centers, c0)


def test_center_updates_pull_centres_to_class_means() -> None:
    loss = CenterLoss(2, 3, center_lr=0.5).double().train()
    x = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0, 2.0, 0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1])
    values = [loss(x, y)["center"].item() for _ in range(30)]
    assert values[-1] < 1e-6 < values[0]


@pytest.mark.parametrize("pairs", ["i_ne_j", "different_identity"])
@pytest.mark.parametrize("form", ["paper", "reference_tf"])
def test_git_matches_reference(pairs: str, form: str) -> None:
    loss, x, y = _setup(GitLoss, lambda_c=0.5, lambda_g=2.0, pairs=pairs, form=form)
    loss.eval()
    out = loss(x, y)
    push = git_push_reference(x.tolist(), LABELS, loss.centers.tolist(), pairs, form)
    center = center_reference(x.tolist(), LABELS, loss.centers.tolist(), form)
    assert out["push"].item() == pytest.approx(push, rel=1e-10)
    assert out["center"].item() == pytest.approx(center, rel=1e-12)
    assert out["loss"].item() == pytest.approx(0.5 * center + 2.0 * push, rel=1e-10)


def test_git_no_valid_pairs_gives_zero_push() -> None:
    loss, x, y = _setup(GitLoss)
    loss.eval()
    assert loss(x[:1], y[:1])["push"].item() == 0.0
    same = GitLoss(4, 5, pairs="different_identity").double().eval()
    out = same(x, torch.zeros(6, dtype=torch.long))
    assert out["push"].item() == 0.0 and torch.isfinite(out["loss"])


@pytest.mark.parametrize("cls", [CenterLoss, GitLoss])
def test_center_and_git_backward_reach_features(cls) -> None:
    loss, x, y = _setup(cls)
    x.requires_grad_(True)
    loss.train()(x, y)["loss"].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_center_rejects_bad_input() -> None:
    loss = CenterLoss(3, 4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        loss(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="built for dim 4"):
        loss(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="empty batch"):
        loss(torch.randn(0, 4), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="pairs"):
        GitLoss(3, 4, pairs="all")
