"""Every registered head: shapes, finite outputs, gradients to every parameter, seed determinism."""

from __future__ import annotations

import pytest
import torch

from facevoice.heads import HEADS

D_FACE, D_VOICE, N_CLASSES, BATCH = 20, 12, 5, 6


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, D_FACE, generator=g), torch.randn(BATCH, D_VOICE, generator=g)


def _build(name: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return HEADS.create(name, D_FACE, D_VOICE, N_CLASSES)


@pytest.mark.parametrize("name", HEADS.names())
def test_head_forward_shapes_and_finite(name: str) -> None:
    head = _build(name, 0).train()
    face, voice = _inputs()
    out = head(face, voice)
    assert out, f"{name} returned no outputs"
    for key, value in out.items():
        assert value.shape[0] == BATCH, f"{name}.{key} has batch dim {value.shape[0]}"
        assert torch.isfinite(value).all(), f"{name}.{key} is not finite"
        if key.endswith("logits"):
            assert value.shape == (BATCH, N_CLASSES)
    head.eval()
    ef, ev = head.embed(face, "face"), head.embed(voice, "voice")
    assert ef.ndim == 2 and ef.shape[0] == BATCH and ef.shape == ev.shape
    assert torch.isfinite(ef).all() and torch.isfinite(ev).all()


@pytest.mark.parametrize("name", HEADS.names())
def test_head_gradients_reach_every_parameter(name: str) -> None:
    head = _build(name, 0).train()
    out = head(*_inputs())
    total = sum(v.float().pow(2).mean() for v in out.values())
    total.backward()
    for pname, p in head.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}.{pname} got no finite gradient"


@pytest.mark.parametrize("name", HEADS.names())
def test_head_is_deterministic_under_a_seed(name: str) -> None:
    face, voice = _inputs()
    a, b, c = _build(name, 7), _build(name, 7), _build(name, 8)
    for h in (a, b, c):
        h.eval()
    assert torch.equal(a.embed(face, "face"), b.embed(face, "face"))
    assert torch.equal(a.embed(voice, "voice"), b.embed(voice, "voice"))
    assert not torch.equal(a.embed(face, "face"), c.embed(face, "face"))
    torch.manual_seed(3)
    out_a = a.train()(face, voice)
    torch.manual_seed(3)
    out_b = b.train()(face, voice)
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)


@pytest.mark.parametrize("name", HEADS.names())
def test_head_rejects_wrong_sizes_and_modalities(name: str) -> None:
    head = _build(name, 0).eval()
    face, voice = _inputs()
    with pytest.raises(ValueError, match=str(D_FACE)):
        head.embed(voice, "face")
    with pytest.raises(ValueError, match="modality"):
        head.embed(face, "image")
