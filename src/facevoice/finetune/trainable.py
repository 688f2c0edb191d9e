"""What ``facevoice finetune`` hands to the one training engine (:class:`facevoice.train.trainer.Trainer`).

* :class:`DualEncoderTrainable`: the trainable — a :class:`~facevoice.finetune.model.DualEncoder`
  with its training step (projected embeddings, all-gathered across processes, symmetric InfoNCE),
  its optimiser (AdamW groups for heads, LoRA and temperature; linear warm-up then cosine decay to 0,
  :func:`facevoice.methods.common.cosine_factor`) and its checkpointed weights: the trainable tensors
  only (LoRA, heads, temperature), never the frozen encoders;
* :class:`PairBatches`: the batch source — the epoch's same-identity voice / face pairs
  (:class:`~facevoice.finetune.data.PairDataset`, all randomness from ``(seed, epoch, index)``)
  through a data loader split over processes.

The validator is :class:`facevoice.finetune.evaluate.PairValidation`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from facevoice.finetune.data import PairCollator, PairDataset
from facevoice.finetune.lora import missing_lora_gradients
from facevoice.finetune.model import DualEncoder
from facevoice.methods.common import cosine_factor
from facevoice.train.distributed import gather_with_grad, world_size


class DualEncoderTrainable(nn.Module):
    """The engine's trainable for fine-tuning; ``train`` is the finetune recipe's ``train:`` section."""

    def __init__(self, model: DualEncoder, train: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.lr_head, self.lr_lora = float(train["lr_head"]), float(train["lr_lora"])
        self.weight_decay, self.weight_decay_lora = float(train["weight_decay"]), float(train["weight_decay_lora"])
        self.warmup_steps = int(train["warmup_steps"])

    def training_step(self, batch: Mapping[str, Any], step: int, epoch: int) -> dict[str, torch.Tensor]:
        """InfoNCE of the global batch: ``{"loss", "logit_scale", "acc_v2f", "acc_f2v"}``.

        Under ``W`` processes each holds ``B / W`` rows; the projected embeddings are gathered with
        gradients, every process computes the loss of the whole global batch, and the gather's backward
        sums the ``W`` identical losses' gradients, which DDP then averages: the update equals the
        single-process update on the same global batch. The loss runs in float32 outside autocast.
        """
        v, f = self.model(batch["voice"], batch["face"])
        labels = batch["labels"]
        if world_size() > 1:
            v, f, labels = gather_with_grad(v), gather_with_grad(f), gather_with_grad(labels)
        with torch.autocast(device_type=v.device.type, enabled=False):
            terms = self.model.loss(v.float(), f.float(), labels)
        return {
            "loss": terms["loss"],
            "logit_scale": terms["logit_scale"],
            "acc_v2f": terms["acc_a2b"],
            "acc_f2v": terms["acc_b2a"],
        }

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW (β 0.9, 0.98, ε 1e-6): heads at ``lr_head``, LoRA at ``lr_lora`` (its own weight decay), the
        temperature at ``lr_head`` without decay; LR warm-up over ``warmup_steps``, then cosine to 0."""
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        lora = [p for n, p in named if "lora_" in n]
        temp = [p for n, p in named if n.startswith("loss.")]
        heads = [p for n, p in named if "lora_" not in n and not n.startswith("loss.")]
        groups = [{"params": heads, "lr": self.lr_head, "weight_decay": self.weight_decay}]
        if lora:
            groups.append({"params": lora, "lr": self.lr_lora, "weight_decay": self.weight_decay_lora})
        if temp:
            groups.append({"params": temp, "lr": self.lr_head, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.98), eps=1e-6)
        schedule = cosine_factor(n_steps, 0.0, self.warmup_steps)
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """Nothing: the batch source draws the epoch's pairs."""

    def on_step_end(self, batch: Any, out: Mapping[str, torch.Tensor], step: int) -> None:
        """After the first step, stop if a LoRA parameter got no gradient (e.g. attention that bypasses its
        projection modules, the WavLM trap): such a run would silently train nothing there."""
        if step == 0:
            missing = missing_lora_gradients(self.model)
            if missing:
                raise RuntimeError(f"{len(missing)} LoRA parameter(s) got no gradient, e.g. {missing[:3]}")

    def checkpoint_weights(self) -> dict[str, torch.Tensor]:
        """Every trainable tensor (LoRA, heads, temperature) by its :class:`DualEncoder` parameter name."""
        return self.model.trainable_state()

    def load_checkpoint_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        self.model.load_trainable_state(weights)


class PairBatches:
    """The engine's batch source: ``len(dataset) // batch_size`` global batches of pairs per epoch.

    ``context`` (an :class:`~facevoice.train.distributed.AccelerateContext`) splits each global batch
    over the processes and places it on the device. Epoch ``e`` of the engine (0-based) draws the
    dataset's epoch ``e + 1``.
    """

    def __init__(
        self, dataset: PairDataset, collate: PairCollator, batch_size: int, num_workers: int = 0, context: Any = None
    ) -> None:
        self.dataset, self.batch_size = dataset, int(batch_size)
        loader = DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,
            drop_last=True,
            collate_fn=collate,
            num_workers=int(num_workers),
        )
        self.loader = context.prepare_loader(loader) if context is not None else loader
        self.steps_per_epoch = len(dataset) // self.batch_size

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator) -> Iterator[Mapping[str, Any]]:
        # accelerate's loader calls ``dataset.set_epoch(<its own count of iterations>)`` when iterated, a count
        # that restarts at 0 in a resumed process: set that count, so the epoch's pairs depend on ``epoch`` only
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch + 1)
        else:
            self.dataset.set_epoch(epoch + 1)
        yield from self.loader

    def count(self, batch: Mapping[str, Any]) -> int:
        return self.batch_size
