"""Every registered method: hyper-parameters, shapes, finite outputs, determinism, learning a planted problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import make_batch, planted, run_steps, toy_arrays, voice_to_face_accuracy

from facevoice.heads import HEADS
from facevoice.losses import LOSSES
from facevoice.losses.base import Loss
from facevoice.methods import METHODS, create_method
from facevoice.methods.base import Method


def _build(name: str, toy, seed: int = 0, **extra) -> Method:
    """The method with its smoke-run settings (the paper defaults are tuned for 50 epochs of real data)."""
    torch.manual_seed(seed)
    hp = {**METHODS.get(name).smoke_hparams, **extra}
    return create_method(name, toy.face.shape[1], toy.voice.shape[1], toy.n_classes, hp)


def _fit_or_train(method: Method, toy, n_steps: int) -> list[float]:
    if getattr(method, "trainable", True):
        return run_steps(method, toy, n_steps)
    method.fit_bundle(toy.face, toy.face_labels, toy.voice, toy.voice_labels)
    method.eval()
    return []


@pytest.mark.parametrize("name", METHODS.names())
def test_method_exposes_defaults_and_rejects_unknown_hparams(name: str) -> None:
    toy = planted()
    method = _build(name, toy)
    assert isinstance(method, Method) and method.hparams
    assert set(type(method).smoke_hparams) <= set(method.hparams), "smoke_hparams names unknown hyper-parameters"
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        _build(name, toy, not_a_real_option=1)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_holds_its_head_and_losses_from_the_registries(name: str) -> None:
    """Heads and losses come from the factories: every submodule that is a loss is a registered one."""
    method = _build(name, planted())
    registered = {LOSSES.get(n) for n in LOSSES.names()}
    losses = [m for m in method.modules() if isinstance(m, Loss)]
    assert all(type(m) in registered for m in losses)
    if getattr(method, "trainable", True):
        assert losses, f"{name} trains without a registered loss"
        heads = {HEADS.get(n) for n in HEADS.names()}
        assert any(type(m) in heads for m in method.modules()), f"{name} trains without a registered head"


@pytest.mark.parametrize("name", METHODS.names())
def test_method_outputs_are_finite_with_consistent_shapes(name: str) -> None:
    toy = planted()
    method = _build(name, toy)
    losses = _fit_or_train(method, toy, 2)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses)
    ef, ev = method.embed(toy.face[:5], "face"), method.embed(toy.voice[:7], "voice")
    assert ef.ndim == 2 and ef.shape[0] == 5 and ev.shape == (7, ef.shape[1])
    assert torch.isfinite(ef).all() and torch.isfinite(ev).all()


@pytest.mark.parametrize("name", METHODS.names())
def test_method_training_step_terms_are_finite_scalars(name: str) -> None:
    toy = planted()
    method = _build(name, toy)
    if not getattr(method, "trainable", True):
        with pytest.raises(TypeError, match="training-free"):
            method.configure_optimizer(1)
        return
    if type(method).prepare is not Method.prepare:
        method.prepare(toy_arrays(toy), None)
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 8)
    out = method.train().training_step(batch, 0, 0)
    assert "loss" in out and out["loss"].requires_grad
    for key, value in out.items():
        assert value.ndim == 0 and torch.isfinite(value), f"{name}: term {key}"


@pytest.mark.parametrize("name", METHODS.names())
def test_method_is_deterministic_under_a_seed(name: str) -> None:
    toy = planted()
    a = _build(name, toy, seed=3)
    la = _fit_or_train(a, toy, 3)
    b = _build(name, toy, seed=3)
    lb = _fit_or_train(b, toy, 3)
    assert la == lb
    for modality, x in (("face", toy.face), ("voice", toy.voice)):
        assert torch.equal(a.embed(x, modality), b.embed(x, modality))


@pytest.mark.parametrize("name", METHODS.names())
def test_method_learns_the_planted_problem(name: str) -> None:
    toy = planted()
    method = _build(name, toy)
    chance = 1.0 / toy.n_classes
    losses = _fit_or_train(method, toy, 60)
    if losses:
        first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
        assert last < first, f"{name}: loss went from {first:.3f} to {last:.3f}"
    acc = voice_to_face_accuracy(method, toy)
    assert acc > 3 * chance, f"{name}: voice→face accuracy {acc:.2f} (chance {chance:.2f})"
