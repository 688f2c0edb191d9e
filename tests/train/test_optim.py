"""The flat optimiser step (facevoice.train.optim) against torch's own per-tensor step, bit for bit."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from facevoice.train.optim import FlatOptimizer, wrap_optimizer


def _model() -> nn.Module:
    torch.manual_seed(0)
    # odd sizes, so tensors end inside a vector register and the flat buffer's boundaries move
    return nn.Sequential(
        nn.Linear(37, 13), nn.BatchNorm1d(13), nn.GELU(), nn.Linear(13, 5), nn.Linear(5, 3, bias=False)
    )


def _groups(model: nn.Module, kind: str) -> list[dict]:
    params = list(model.parameters())
    if kind == "one":
        return [{"params": params}]
    # two groups with their own lr and weight decay (the pattern of xplda's AdamW)
    return [
        {"params": [p for p in params if p.ndim >= 2], "lr": 3e-3, "weight_decay": 0.05},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


OPTIMIZERS = {
    "adam": lambda g: torch.optim.Adam(g, lr=1e-3),
    "adam_wd": lambda g: torch.optim.Adam(g, lr=1e-3, weight_decay=0.01, betas=(0.8, 0.99), eps=1e-6),
    "adamw": lambda g: torch.optim.AdamW(g, lr=2e-3, weight_decay=0.1),
    "sgd": lambda g: torch.optim.SGD(g, lr=0.05),
    "sgd_momentum_wd": lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, nesterov=True, dampening=0.0),
    "sgd_dampening": lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, dampening=0.1),
}


def _train(opt_name: str, groups: str, flat: bool, clip: float | None, steps: int = 6, hook=None):
    model = _model()
    opt = OPTIMIZERS[opt_name](_groups(model, groups))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.9**s)
    stepper = FlatOptimizer(opt) if flat else opt
    g = torch.Generator().manual_seed(1)
    losses = []
    for step in range(steps):
        x = torch.randn(16, 37, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        loss = nn.functional.cross_entropy(model(x), y)
        stepper.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        stepper.step()
        sched.step()
        if hook is not None:
            hook(step, model, opt)
        losses.append(loss.detach().clone())
    return model, opt, torch.stack(losses)


def _same(a: nn.Module, b: nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def _same_state(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        assert sa["state"][k].keys() == sb["state"][k].keys()
        for name in sa["state"][k]:
            x, y = sa["state"][k][name], sb["state"][k][name]
            assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), (k, name)


@pytest.mark.parametrize("clip", [None, 0.5])
@pytest.mark.parametrize("groups", ["one", "two"])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_flat_step_is_bit_identical_to_torch(opt_name, groups, clip):
    ref_model, ref_opt, ref_losses = _train(opt_name, groups, flat=False, clip=clip)
    model, opt, losses = _train(opt_name, groups, flat=True, clip=clip)
    assert torch.equal(ref_losses, losses)
    _same(ref_model, model)
    _same_state(ref_opt, opt)


@pytest.mark.parametrize("opt_name", ["adamw", "sgd_momentum_wd"])
def test_state_clear_and_reset_follow_torch(opt_name):
    """SSoS clears the optimiser state and re-initialises the head in place at its stage switch."""

    def switch(step, model, opt):
        if step == 2:
            opt.state.clear()
            with torch.no_grad():
                model[0].weight.mul_(0.5)

    ref_model, ref_opt, ref_losses = _train(opt_name, "two", flat=False, clip=None, hook=switch)
    model, opt, losses = _train(opt_name, "two", flat=True, clip=None, hook=switch)
    assert torch.equal(ref_losses, losses)
    _same(ref_model, model)
    _same_state(ref_opt, opt)


def test_parameter_without_gradient_is_skipped_like_torch():
    """A branch that gets no gradient in a step (e.g. one modality per batch) is not stepped, as in torch."""

    def run(flat: bool):
        torch.manual_seed(0)
        a, b = nn.Linear(4, 3), nn.Linear(4, 3)
        opt = torch.optim.Adam([*a.parameters(), *b.parameters()], lr=1e-2, weight_decay=0.1)
        stepper = FlatOptimizer(opt) if flat else opt
        g = torch.Generator().manual_seed(0)
        for step in range(5):
            x = torch.randn(8, 4, generator=g)
            loss = a(x).square().mean() + (b(x).square().mean() if step % 2 == 0 else 0.0)
            stepper.zero_grad(set_to_none=True)
            loss.backward()
            stepper.step()
        return a, b, opt

    ra, rb, ropt = run(False)
    fa, fb, fopt = run(True)
    _same(ra, fa)
    _same(rb, fb)
    _same_state(ropt, fopt)


def test_state_dict_round_trip_resumes_bit_identically():
    """A checkpointed optimiser state (what resume loads) continues exactly, flat or not."""
    ref_model, ref_opt, _ = _train("adamw", "two", flat=False, clip=None, steps=8)

    model, opt, _ = _train("adamw", "two", flat=True, clip=None, steps=4)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(opt.state_dict())
    # a fresh process: new model and optimiser, states loaded, then the remaining steps
    model2 = _model()
    opt2 = torch.optim.AdamW(_groups(model2, "two"), lr=2e-3, weight_decay=0.1)
    flat2 = FlatOptimizer(opt2)
    model2.load_state_dict(saved_model)
    flat2.load_state_dict(saved_opt)
    sched = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 0.9**s)
    with warnings.catch_warnings():  # replaying the schedule to step 4 before any optimiser step, on purpose
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(4):
            sched.step()
    g = torch.Generator().manual_seed(1)
    for step in range(8):
        x = torch.randn(16, 37, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        if step < 4:
            continue  # the same data stream as the uninterrupted run
        loss = nn.functional.cross_entropy(model2(x), y)
        flat2.zero_grad()
        loss.backward()
        flat2.step()
        sched.step()
    _same(ref_model, model2)
    _same_state(ref_opt, opt2)


def test_parameters_become_views_of_one_buffer_and_stay_the_same_objects():
    model = _model()
    before = list(model.parameters())
    flat = FlatOptimizer(torch.optim.Adam(model.parameters()))
    assert list(model.parameters()) == before
    (buffer,) = [g.param for g in flat.groups]
    base = buffer.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == base for p in model.parameters())
    loss = model(torch.randn(4, 37)).sum()
    flat.zero_grad()
    loss.backward()
    gbase = flat.groups[0].grad.untyped_storage().data_ptr()
    assert all(p.grad.untyped_storage().data_ptr() == gbase for p in model.parameters())


def test_unsupported_settings_keep_torch_optimizer():
    model = _model()
    amsgrad = torch.optim.Adam(model.parameters(), amsgrad=True)
    assert wrap_optimizer(amsgrad, "flat") is amsgrad
    rms = torch.optim.RMSprop(model.parameters())
    assert wrap_optimizer(rms, "flat") is rms
    with pytest.raises(ValueError, match="optimizer_impl"):
        wrap_optimizer(rms, "fast")
    with pytest.raises(ValueError, match="fused supports"):
        wrap_optimizer(rms, "fused")


def test_fused_runs_and_stays_close():
    ref_model, _, ref_losses = _train("adamw", "two", flat=False, clip=None)
    model = _model()
    opt = wrap_optimizer(torch.optim.AdamW(_groups(model, "two"), lr=2e-3, weight_decay=0.1), "fused")
    assert all(g["fused"] for g in opt.param_groups)
    g = torch.Generator().manual_seed(1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.9**s)
    losses = []
    for _ in range(6):
        x = torch.randn(16, 37, generator=g)
        y = torch.randint(0, 3, (16,), generator=g)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.detach())
    # other rounding, same arithmetic: close, not equal (a bias under batch norm has a ~0 gradient, so
    # Adam's normalised step on it is rounding noise: parameters are compared at the scale of lr x steps)
    torch.testing.assert_close(torch.stack(losses), ref_losses, rtol=1e-4, atol=1e-6)
    for (name, x), (_, y) in zip(ref_model.state_dict().items(), model.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=6 * 2e-3, msg=name)
