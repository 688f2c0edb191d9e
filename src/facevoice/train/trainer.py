"""The one training engine: epochs, batches, optimisation, validation-only selection, checkpoints, exact resume.

Everything that trains in facevoice runs through :class:`Trainer`: the head methods of
``facevoice.methods`` on cached embeddings (``facevoice train``, ``facevoice benchmark``) and the
LoRA / projection-head fine-tuning of frozen encoders on media (``facevoice finetune``). It is put
together from four parts, and knows nothing about what they contain:

* a **trainable** ``nn.Module`` with ``training_step(batch, step, epoch) -> {"loss": ..., other scalar
  terms}``, ``configure_optimizer(n_steps) -> (optimizer, per-step scheduler or None)`` and the hooks
  ``on_epoch_start(epoch, n_epochs)`` / ``on_step_end(batch, out, step)`` (every
  :class:`~facevoice.methods.base.Method` is one). Its checkpointed weights are its ``state_dict``
  unless it defines ``checkpoint_weights()`` / ``load_checkpoint_weights(weights)`` (``finetune``
  stores only the trainable tensors, not the frozen encoders);
* a **batch source** with ``steps_per_epoch``, ``epoch(epoch, n_epochs, rng)`` yielding the epoch's
  batches and ``count(batch)`` (samples in a batch). It draws its randomness from ``rng`` (the
  trainer's generator, checkpointed) or from ``(seed, epoch)``, so an epoch's batches depend only on
  the state at the epoch's start;
* a **validator** (or None) with ``evaluate(module) -> {"val_metric": lower is better, ...}``;
* an optional **context** (:mod:`facevoice.train.distributed`): one process, or data parallel.

Per epoch it appends one line to ``metrics.jsonl`` (mean loss terms, learning rate, train /
validation time, samples/s, validation figures, whether it is the best so far) and then writes
``checkpoints/last`` (weights + optimiser, scheduler, RNG and counter states); ``checkpoints/best``
holds the weights of the epoch with the best validation metric (``selection: last``: the last
epoch). ``fit(resume=True)`` restores ``last``, drops the ``metrics.jsonl`` lines written after it
(a kill can land between the two writes, or tear the last line), and reproduces the uninterrupted run
exactly: same batches, same dropout masks, same weights and metrics, bit for bit. A kill therefore
costs at most the epoch in progress.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch import nn

from facevoice.core.files import write_atomic, write_json_atomic
from facevoice.core.log import get_logger
from facevoice.runs.checkpoint import read_checkpoint, resolve_checkpoint, save_checkpoint
from facevoice.train.config import TrainConfig
from facevoice.train.distributed import LocalContext
from facevoice.train.optim import wrap_optimizer
from facevoice.train.progress import EpochProgress
from facevoice.train.rng import capture_rng, restore_rng
from facevoice.train.terms import EpochTerms

log = get_logger(__name__)


class BatchSource(Protocol):
    """What the trainer draws batches from (see the module docstring)."""

    steps_per_epoch: int

    def epoch(self, epoch: int, n_epochs: int, rng: np.random.Generator) -> Iterator[Any]: ...

    def count(self, batch: Any) -> int: ...


class Validator(Protocol):
    """Scores the module on held-out identities; ``val_metric`` decides the best checkpoint (lower is better)."""

    def evaluate(self, module: nn.Module) -> dict[str, float]: ...


def checkpoint_weights(module: nn.Module) -> Any:
    """What a checkpoint stores of ``module``: its ``checkpoint_weights()`` if defined, else its ``state_dict()``."""
    own = getattr(module, "checkpoint_weights", None)
    return own() if callable(own) else module.state_dict()


def load_weights(module: nn.Module, weights: dict[str, Any]) -> None:
    """Inverse of :func:`checkpoint_weights` (strict: every name must match)."""
    own = getattr(module, "load_checkpoint_weights", None)
    if callable(own):
        own(weights)
    else:
        module.load_state_dict(weights, strict=True)


class Trainer:
    """Train ``module`` on ``batches``, selecting on ``validator`` (None: the last epoch is kept)."""

    def __init__(
        self,
        module: nn.Module,
        batches: BatchSource,
        validator: Validator | None,
        run_dir: str | Path,
        cfg: TrainConfig,
        context: Any = None,
    ) -> None:
        self.module, self.batches, self.val, self.cfg = module, batches, validator, cfg
        self.context = context if context is not None else LocalContext()
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.n_steps = cfg.epochs * batches.steps_per_epoch
        optimizer, self.scheduler = module.configure_optimizer(self.n_steps)
        if type(self.context) is LocalContext:  # accelerate / DDP own the gradients and the step themselves
            optimizer = wrap_optimizer(optimizer, cfg.optimizer_impl)
        self.step_fn, self.optimizer = self.context.prepare(module, optimizer)
        self.rng = np.random.default_rng(cfg.seed)
        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "best_metric": math.inf, "best_epoch": 0, "bad_epochs": 0}

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files (the main process of a data-parallel run)."""
        return bool(self.context.is_main_process)

    # -- resume ---------------------------------------------------------------------------------
    def _restore(self) -> bool:
        found = resolve_checkpoint(self.ckpt_dir / "last")
        if found is None:
            return False
        weights, state, _ = read_checkpoint(found)
        load_weights(self.module, weights)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"], self.rng)
        self.state = dict(state["trainer"])
        log.info("resumed %s after epoch %d (step %d)", self.run_dir, self.state["epoch"], self.state["step"])
        return True

    def _start_fresh(self) -> None:
        """A run from epoch 0: forget what an earlier attempt that never reached its first checkpoint wrote."""
        for path in (self.ckpt_dir / "best", self.ckpt_dir / "best.prev", self.ckpt_dir / "best.tmp"):
            shutil.rmtree(path, ignore_errors=True)
        (self.ckpt_dir / "best.json").unlink(missing_ok=True)

    def _save_last(self) -> None:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": capture_rng(self.rng),
            "trainer": dict(self.state),
        }
        meta = {"epoch": self.state["epoch"], "step": self.state["step"], "method": type(self.module).__name__}
        save_checkpoint(self.ckpt_dir / "last", checkpoint_weights(self.module), state, meta)

    # -- loop -----------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Run the remaining epochs; return a summary (status, best epoch, best metric, epochs run)."""
        if self.writes:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if not resume and resolve_checkpoint(self.ckpt_dir / "last") is not None:
            raise FileExistsError(f"{self.run_dir} already holds a checkpoint: resume it or choose another run dir")
        if not (resume and self._restore()) and self.writes:
            self._start_fresh()
        if self.writes:
            trim_metrics(self.metrics_path, self.state["epoch"])
        status = "complete"
        stop_after = self.cfg.stop_after_epoch
        steps = self.batches.steps_per_epoch
        with EpochProgress(self.cfg.epochs, steps, enabled=self.cfg.progress and self.writes) as bar:
            bar.advance_to(self.state["epoch"])
            while self.state["epoch"] < self.cfg.epochs:
                record = self._epoch(bar)
                bar.end_epoch(record)
                if self.cfg.patience and self.state["bad_epochs"] >= self.cfg.patience:
                    status = "early_stopped"
                    log.info("early stop after epoch %d (patience %d)", self.state["epoch"], self.cfg.patience)
                    break
                if stop_after and self.state["epoch"] >= stop_after and self.state["epoch"] < self.cfg.epochs:
                    status = "interrupted"
                    break
        self.context.wait_for_everyone()  # every process may read the checkpoints from here on
        return {"status": status, **{k: self.state[k] for k in ("epoch", "step", "best_epoch", "best_metric")}}

    def _epoch(self, bar: EpochProgress) -> dict[str, Any]:
        m, cfg, epoch = self.module, self.cfg, self.state["epoch"]
        m.train()
        m.on_epoch_start(epoch, cfg.epochs)
        terms = EpochTerms(epoch)  # loss terms summed on the device; non-finite losses found without a per-step sync
        n_samples = 0
        t0 = time.perf_counter()
        try:
            for batch in self.batches.epoch(epoch, cfg.epochs, self.rng):
                out = self.step_fn(batch, self.state["step"], epoch)
                self.optimizer.zero_grad(set_to_none=True)
                self.context.backward(out["loss"])
                if cfg.grad_clip:
                    self.context.clip_grad_norm_(m.parameters(), cfg.grad_clip)
                self.optimizer.step()
                if self.scheduler is not None:
                    self.scheduler.step()
                m.on_step_end(batch, out, self.state["step"])
                terms.add(out, self.state["step"])
                n_samples += self.batches.count(batch)
                self.state["step"] += 1
                bar.step()
            means = terms.means()
        except Exception:
            terms.check()  # a non-finite loss earlier in the epoch is the cause to report (raised from here)
            raise
        train_time = time.perf_counter() - t0
        self.state["epoch"] = epoch + 1
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.state["step"]}
        record.update({f"train_{k}": v for k, v in means.items()})
        record.update(lr=float(self.optimizer.param_groups[0]["lr"]), train_time_s=train_time)
        record["samples_per_s"] = n_samples / train_time if train_time > 0 else float("nan")
        record.update(self._validate_and_select(epoch + 1))
        if self.writes:  # the line first, then the checkpoint: a resume drops lines past the checkpoint
            with open(self.metrics_path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            self._save_last()
        return record

    def _validate_and_select(self, epoch: int) -> dict[str, Any]:
        due = epoch % self.cfg.val_every == 0 or epoch == self.cfg.epochs
        if self.cfg.selection == "last" or self.val is None or not due:
            out: dict[str, Any] = {}
            improved = self.cfg.selection == "last" or self.val is None
        else:
            t0 = time.perf_counter()
            out = self.val.evaluate(self.module)
            out["val_time_s"] = time.perf_counter() - t0
            metric = out["val_metric"]
            improved = bool(np.isfinite(metric) and metric < self.state["best_metric"])
            if improved:
                self.state["best_metric"] = float(metric)
        if improved:
            self.state["best_epoch"], self.state["bad_epochs"] = epoch, 0
            if self.writes:
                info = {"epoch": epoch, "selection": self.cfg.selection, **out}
                save_checkpoint(
                    self.ckpt_dir / "best", checkpoint_weights(self.module), {"best": info}, {"epoch": epoch}
                )
                write_json_atomic(self.ckpt_dir / "best.json", info)
        elif out:
            self.state["bad_epochs"] += 1
        out["best"] = improved
        return out


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` (a torn last line, left by a kill inside the append, is skipped)."""
    return [row for _, row in _metric_lines(path)]


def trim_metrics(path: Path, last_epoch: int) -> list[dict[str, Any]]:
    """Keep the ``metrics.jsonl`` lines of epochs ``<= last_epoch``; return them as records.

    Lines past the checkpoint come from an epoch that a kill interrupted after its line was written,
    and a torn last line from a kill inside the append: both are dropped (the file is rewritten
    atomically, kept lines byte for byte) and the epoch runs again.
    """
    if not path.exists():
        return []
    kept = [(line, row) for line, row in _metric_lines(path) if int(row.get("epoch", last_epoch + 1)) <= last_epoch]
    if [line for line, _ in kept] != path.read_text().splitlines():
        write_atomic(path, "".join(line + "\n" for line, _ in kept))
    return [row for _, row in kept]


def _metric_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            out.append((line, row))
    return out
