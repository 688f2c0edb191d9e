"""The trainer's deferred loss bookkeeping (facevoice.train.terms): exact sums, and non-finite losses still raise."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from facevoice.train.config import TrainConfig
from facevoice.train.terms import CHECK_EVERY, EpochTerms
from facevoice.train.trainer import Trainer


def test_sums_equal_per_term_running_sums_bit_for_bit():
    """The terms of a step may change (one modality per batch): the means equal the old per-term sums."""
    g = torch.Generator().manual_seed(0)
    terms = EpochTerms(epoch=0)
    ref: dict[str, torch.Tensor] = {}
    for step in range(3 * CHECK_EVERY + 5):
        out = {"loss": torch.rand((), generator=g) * 7, "acc": torch.rand(1, generator=g, dtype=torch.float64)}
        if step >= 10:
            out["ce_face" if step % 3 else "ce_voice"] = torch.rand((), generator=g) * 3
        out["vector"] = torch.rand(4, generator=g)  # not a scalar: not a term
        out["note"] = "text"
        terms.add(out, step)
        for k, v in out.items():  # the trainer's former bookkeeping
            if torch.is_tensor(v) and v.numel() == 1:
                ref[k] = ref.get(k, 0.0) + v.detach().float()
    expected = {k: float(v) / (3 * CHECK_EVERY + 5) for k, v in ref.items()}
    assert terms.means() == expected


def test_negative_zero_term_sums_like_before():
    terms = EpochTerms(epoch=0)
    terms.add({"loss": torch.tensor(1.0), "zero": torch.tensor(-0.0)}, 0)
    assert str(terms.means()["zero"]) == str(float(0.0 + torch.tensor(-0.0)))


class _Toy(nn.Module):
    """A linear model whose loss turns NaN at ``nan_at``; its hook fails at ``fail_at`` (after the NaN)."""

    def __init__(self, nan_at: int, fail_at: int | None = None) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.nan_at, self.fail_at = nan_at, fail_at

    def training_step(self, batch, step, epoch):
        loss = self.lin(batch).square().mean()
        if step == self.nan_at:
            loss = loss * float("nan")
        return {"loss": loss, "mse": loss.detach()}

    def configure_optimizer(self, n_steps):
        return torch.optim.Adam(self.parameters(), lr=1e-2), None

    def on_epoch_start(self, epoch, n_epochs):
        pass

    def on_step_end(self, batch, out, step):
        if self.fail_at is not None and step == self.fail_at:
            raise RuntimeError("a hook tripped over the NaN weights")


class _Batches:
    steps_per_epoch = 10

    def epoch(self, epoch, n_epochs, rng):
        g = torch.Generator().manual_seed(epoch)
        for _ in range(self.steps_per_epoch):
            yield torch.randn(4, 3, generator=g)

    @staticmethod
    def count(batch):
        return len(batch)


@pytest.mark.parametrize("impl", ["flat", "torch"])
@pytest.mark.parametrize("fail_at", [None, 16])
def test_nan_loss_raises_naming_the_step(tmp_path, impl, fail_at):
    cfg = TrainConfig(epochs=3, selection="last", progress=False, optimizer_impl=impl)
    trainer = Trainer(_Toy(nan_at=13, fail_at=fail_at), _Batches(), None, tmp_path / "run", cfg)
    with pytest.raises(FloatingPointError, match=r"non-finite loss at epoch 2, step 13: \{'loss': nan, 'mse': nan\}"):
        trainer.fit()
    # the first epoch was written; the failing one was not
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and np.isfinite(json.loads(lines[0])["train_loss"])
