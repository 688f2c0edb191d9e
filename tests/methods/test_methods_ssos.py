"""SSoS: identity re-weighting, the two-stage schedule, sample weights, the reference CE weighting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import make_batch, planted, run_steps

from facevoice.methods import METHODS
from facevoice.methods.reweighting import IdentityReweighting, StageSchedule


def test_reweighting_updates_follow_the_paper() -> None:
    rw = IdentityReweighting(100)
    rw.loss_mean.copy_(torch.arange(100, 0, -1, dtype=torch.float32))  # identity 99 has the lowest loss
    assert rw.sample_weights(torch.tensor([0, 1])) is None
    rw.update_weights()
    assert float(rw.ratio) == 0.5
    assert torch.equal(rw.weight[50:], torch.ones(50)) and torch.equal(rw.weight[:50], torch.zeros(50))
    rw.update_weights()  # ×0.99, then the next 2 (int(2.4)) lowest-loss unweighted identities get 1
    assert torch.allclose(rw.weight[50:], torch.full((50,), 0.99))
    assert torch.equal(rw.weight[48:50], torch.ones(2)) and float(rw.weight[:48].abs().sum()) == 0
    for _ in range(30):
        rw.update_weights()
    assert float(rw.ratio) == pytest.approx(0.9)  # stops once >= 90% are weighted
    frozen = rw.weight.clone()
    rw.update_weights()
    assert torch.equal(rw.weight, frozen)


def test_reweighting_ema_and_sample_weights() -> None:
    rw = IdentityReweighting(4, loss_init=14.0)
    rw.update_ema(torch.tensor([1, 1, 2]), torch.tensor([2.0, 4.0, 4.0]))
    assert torch.allclose(rw.loss_mean, torch.tensor([14.0, 0.9 * 14 + 0.1 * 3.0, 0.9 * 14 + 0.1 * 4.0, 14.0]))
    rw.weight.copy_(torch.tensor([1.0, 0.0, 0.5, 0.5]))
    rw.ratio.fill_(0.75)
    assert torch.allclose(rw.sample_weights(torch.tensor([0, 2])), torch.tensor([2.0, 1.0]))
    assert torch.allclose(rw.sample_weights(torch.tensor([1, 1])), torch.ones(2))  # all-zero batch → uniform


def test_stage_schedule_paper_and_scaled() -> None:
    hp = METHODS.create("ssos", 4, 4, 3).hparams
    paper = StageSchedule.from_hparams(hp, n_steps=None)
    assert (paper.stage1_iters, paper.stage2_iters, paper.reweight_start, paper.reweight_every) == (
        2400,
        10000,
        500,
        100,
    )
    assert paper.lr_factor(1000) == 1.0 and paper.lr_factor(1001) == pytest.approx(0.1)
    assert paper.lr_factor(2001) == pytest.approx(0.01)
    assert paper.lr_factor(2400) == 1.0 and paper.lr_factor(2400 + 3001) == pytest.approx(0.01)
    half = StageSchedule.from_hparams(hp, n_steps=6200)
    assert (half.stage1_iters, half.stage2_iters, half.reweight_start, half.reweight_every) == (1200, 5000, 250, 50)


def _ssos(toy, **hp):
    torch.manual_seed(0)
    base = {"lr": 0.05, "fit_schedule_to_run": False, "stage1_iters": 8, "stage2_iters": 6}
    base.update(reweight_start=2, reweight_every=2, stage1_milestones=(100,), stage2_milestones=(100,))
    base.update(hp)
    return METHODS.create("ssos", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, **base)


def test_ssos_two_stages_reinitialise_and_freeze_weights() -> None:
    toy = planted(n_classes=10)
    method = _ssos(toy)
    run_steps(method, toy, 7, bs=10)  # iterations 1..7: updates at 2, 4, 6
    rw = method.reweighting
    assert int(rw.stage) == 1 and 0.5 <= float(rw.ratio) < 0.9
    weights_stage1 = rw.weight.clone()
    head_before = {k: v.clone() for k, v in method.head.state_dict().items()}
    opt, _ = method.configure_optimizer(14)
    batch = make_batch(method, toy, np.random.default_rng(1), 7, 0, 10, 2, 10)
    out = method.train().training_step(batch, 7, 0)
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    assert len(opt.state) > 0
    method.on_step_end(batch, out, 7)  # iteration 8 = end of stage 1
    assert int(rw.stage) == 2 and len(opt.state) == 0
    assert not torch.equal(method.head.classifier, head_before["classifier"])
    run_steps(method, toy, 5, bs=10)
    assert torch.equal(rw.weight, weights_stage1)  # fixed in stage 2


def test_ssos_weights_enter_the_loss() -> None:
    toy = planted(n_classes=10)
    method = _ssos(toy)
    batch = make_batch(method, toy, np.random.default_rng(0), 0, 0, 4, 1, 10)
    method.train()
    torch.manual_seed(1)
    plain = method.training_step(batch, 0, 0)["loss"].item()
    batch.weights = torch.linspace(0.0, 2.0, 10)
    torch.manual_seed(1)
    weighted = method.training_step(batch, 0, 0)
    assert weighted["loss"].item() != pytest.approx(plain)
    ref = _ssos(toy, ce_weighting="batch_mean").train()
    torch.manual_seed(1)
    out = ref.training_step(batch, 0, 0)
    assert out["ce_face"].item() != pytest.approx(weighted["ce_face"].item())


def test_ssos_without_reweighting_is_one_stage() -> None:
    toy = planted()
    method = _ssos(toy, reweight=False)
    run_steps(method, toy, 10, bs=6)
    assert float(method.reweighting.ratio) == -1.0 and int(method.reweighting.stage) == 1
    assert method.sample_weights(torch.tensor([0, 1])) is None
    assert {"reweighting.loss_mean", "reweighting.weight", "reweighting.ratio", "reweighting.stage"} <= set(
        method.state_dict()
    )
