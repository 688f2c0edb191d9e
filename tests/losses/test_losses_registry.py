"""Every registered loss: finite named terms, a scalar "loss" on the inputs' device, gradients, determinism."""

from __future__ import annotations

import geoopt
import pytest
import torch

from facevoice.losses import LOSSES

N_CLASSES, DIM, BATCH = 4, 6, 8

# How to build each registered loss and feed it; a new registry entry must add a line here.
SPECS = {
    "cross_entropy": ({}, "logits"),
    "opl": ({}, "features"),
    "center": ({"n_classes": N_CLASSES, "dim": DIM}, "features"),
    "git": ({"n_classes": N_CLASSES, "dim": DIM}, "features"),
    "hyperbolic_alignment": ({}, "ball_pair"),
    "ssos_alignment": ({}, "pair"),
    "infonce": ({}, "pair"),
}


def _inputs(kind: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    if kind == "logits":
        return torch.randn(BATCH, N_CLASSES, generator=g), labels
    if kind == "features":
        return torch.randn(BATCH, DIM, generator=g), labels
    a, b = torch.randn(BATCH, DIM, generator=g), torch.randn(BATCH, DIM, generator=g)
    if kind == "ball_pair":
        ball = geoopt.PoincareBall(c=0.05)
        a, b = ball.expmap0(a), ball.expmap0(b)
    return a, b


def test_every_registered_loss_has_a_spec() -> None:
    assert set(LOSSES.names()) <= set(SPECS), f"add a SPECS entry for {set(LOSSES.names()) - set(SPECS)}"


@pytest.mark.parametrize("name", LOSSES.names())
def test_registered_loss_terms_gradients_and_determinism(name: str) -> None:
    kwargs, kind = SPECS[name]
    loss = LOSSES.create(name, **kwargs).eval()
    inputs = [t.clone().requires_grad_(t.is_floating_point()) for t in _inputs(kind)]
    out = loss(*inputs)
    assert "loss" in out and out["loss"].ndim == 0 and out["loss"].device == inputs[0].device
    for key, value in out.items():
        assert torch.isfinite(value).all(), f"{name}: term {key} is not finite"
    out["loss"].backward()
    assert inputs[0].grad is not None and torch.isfinite(inputs[0].grad).all() and inputs[0].grad.abs().sum() > 0
    again = loss(*[t.detach() for t in inputs])
    assert torch.equal(again["loss"], out["loss"].detach())
