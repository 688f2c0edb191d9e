"""Every registered loss, fed from its declared inputs: finite named terms, a scalar "loss" on the
inputs' device, gradients to every float input, determinism. A new loss is covered by registering it."""

from __future__ import annotations

import pytest
import torch

from facevoice.losses import INPUTS, LOSSES, create_loss

N_CLASSES, DIM, BATCH = 4, 6, 8
SIZES = {"n_classes": N_CLASSES, "dim": DIM}


def _inputs(names: tuple[str, ...], seed: int = 0) -> dict[str, torch.Tensor]:
    """One tensor per named input; every identity appears twice, so same- and other-identity pairs exist.

    Pair sides are small (norm ~0.7) so that they are also valid points of the Poincaré balls used here.
    """
    g = torch.Generator().manual_seed(seed)
    make = {
        "features": lambda: torch.randn(BATCH, DIM, generator=g),
        "labels": lambda: torch.arange(BATCH) % N_CLASSES,
        "logits": lambda: torch.randn(BATCH, N_CLASSES, generator=g),
        "a": lambda: 0.3 * torch.randn(BATCH, DIM, generator=g),
        "b": lambda: 0.3 * torch.randn(BATCH, DIM, generator=g),
        "weights": lambda: torch.rand(BATCH, generator=g) + 0.5,
        "pair_scores": lambda: torch.randn(BATCH, BATCH, generator=g),
    }
    assert set(make) == set(INPUTS), "a new named input needs a generator here"
    return {n: make[n]() for n in names}


def _declared(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cls = LOSSES.get(name)
    return tuple(cls.inputs), tuple(cls.optional)


@pytest.mark.parametrize("name", LOSSES.names())
@pytest.mark.parametrize("with_optional", [False, True])
def test_registered_loss_terms_gradients_and_determinism(name: str, with_optional: bool) -> None:
    required, optional = _declared(name)
    assert required, f"{name} declares no inputs"
    loss = create_loss(name, sizes=SIZES).eval()
    inputs = _inputs(required + (optional if with_optional else ()))
    for t in inputs.values():
        t.requires_grad_(t.is_floating_point() and t.ndim == 2)
    out = loss.compute({**inputs, "unused": torch.zeros(1)})  # extra inputs are not passed on
    assert "loss" in out and out["loss"].ndim == 0 and out["loss"].device == inputs[required[0]].device
    for key, value in out.items():
        assert torch.isfinite(value).all(), f"{name}: term {key} is not finite"
    out["loss"].backward()
    for key, t in inputs.items():
        if t.requires_grad:
            assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0, f"{name}: {key}"
    again = loss.compute({k: t.detach() for k, t in inputs.items()})
    assert torch.equal(again["loss"], out["loss"].detach())
    assert torch.equal(loss(**{k: t.detach() for k, t in inputs.items()})["loss"], again["loss"])


@pytest.mark.parametrize("name", LOSSES.names())
def test_registered_loss_builds_under_the_same_seed_identically(name: str) -> None:
    torch.manual_seed(5)
    a = create_loss(name, sizes=SIZES)
    torch.manual_seed(5)
    b = create_loss(name, sizes=SIZES)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("name", LOSSES.names())
def test_registered_loss_says_which_input_is_missing(name: str) -> None:
    required, _ = _declared(name)
    loss = create_loss(name, sizes=SIZES)
    partial = _inputs(required[1:])
    with pytest.raises(ValueError, match=required[0]):
        loss.compute(partial)
