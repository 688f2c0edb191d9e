"""FOP (loss composition, fusions, optimiser) and the contrastive baseline (InfoNCE, temperature)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import make_batch, planted, run_steps

from facevoice.methods import METHODS


def _create(name, toy, **hp):
    torch.manual_seed(0)
    return METHODS.create(name, toy.face.shape[1], toy.voice.shape[1], toy.n_classes, **hp)


@pytest.mark.parametrize("fusion", ["gated", "linear"])
def test_fop_loss_is_ce_plus_alpha_opl(fusion: str) -> None:
    toy = planted()
    method = _create("fop", toy, fusion=fusion, alpha=0.5)
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 12)
    out = method.train().training_step(batch, 0, 0)
    assert out["loss"].item() == pytest.approx(out["ce"].item() + 0.5 * out["opl"].item(), rel=1e-6)
    method.eval()
    emb = method.embed(toy.face[:4], "face")
    branch = method.head.face_branch(toy.face[:4])
    assert torch.allclose(emb, torch.tanh(branch) if fusion == "gated" else branch)


def test_fop_paper_optimiser() -> None:
    method = _create("fop", planted())
    opt, sched = method.configure_optimizer(5)
    assert isinstance(opt, torch.optim.Adam) and sched is None
    assert opt.param_groups[0]["lr"] == 1e-5 and opt.param_groups[0]["weight_decay"] == 0.01
    assert method.default_batch_size == 128 and method.hparams["fusion"] == "gated"


def test_contrastive_learns_its_temperature_without_weight_decay() -> None:
    toy = planted()
    method = _create("contrastive", toy, lr=1e-2)
    opt, _ = method.configure_optimizer(10)
    no_decay = [g for g in opt.param_groups if g["weight_decay"] == 0.0][0]["params"]
    assert any(p is method.loss.log_scale for p in no_decay)
    scale0 = method.loss.log_scale.detach().clone()
    run_steps(method, toy, 10)
    assert not torch.equal(method.loss.log_scale.detach(), scale0)
    assert torch.allclose(method.embed(toy.face[:3], "face").norm(dim=1), torch.ones(3))


def test_contrastive_fixed_temperature_option() -> None:
    method = _create("contrastive", planted(), learnable_temperature=False, temperature=0.1)
    assert not any(p is method.loss.log_scale for p in method.parameters())
    assert method.loss.temperature == pytest.approx(0.1)
