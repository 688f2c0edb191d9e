"""The one trainer: epochs, sampling, optimisation, validation-based selection, checkpoints, resume.

It knows nothing method-specific: a :class:`~facevoice.methods.base.Method` supplies its losses
(``training_step``), optimiser (``configure_optimizer``), hooks and ``embed``; the sampler follows
``method.sampling``. Per epoch it appends one line to ``metrics.jsonl`` (mean loss terms, learning
rate, train / validation time, samples/s, validation EER/AUC, whether it is the best so far) and
writes ``checkpoints/last`` (weights + optimiser, scheduler and RNG states); ``checkpoints/best``
holds the weights of the epoch with the best validation metric (``train.val_metric``, EER by
default). ``fit(resume=True)`` restores ``last`` and reproduces the uninterrupted run exactly (same
batches, same dropout masks).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facevoice.core.log import get_logger
from facevoice.methods.base import Method
from facevoice.runs.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from facevoice.train.config import TrainConfig
from facevoice.train.data import TrainData
from facevoice.train.progress import EpochProgress
from facevoice.train.rng import capture_rng, restore_rng
from facevoice.train.samplers import make_sampler
from facevoice.train.validation import ValidationSet

log = get_logger(__name__)
STOP_ENV = "FACEVOICE_STOP_AFTER_EPOCH"


class Trainer:
    """Train ``method`` on ``data``, selecting on ``val`` (None: the last epoch is kept)."""

    def __init__(
        self, method: Method, data: TrainData, val: ValidationSet | None, run_dir: str | Path, cfg: TrainConfig
    ) -> None:
        self.method, self.data, self.val, self.cfg = method, data, val, cfg
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        batch_size = int(cfg.batch_size or method.default_batch_size)
        if method.sampling == "one_per_identity" and batch_size > data.n_classes:
            log.warning("batch_size %d > %d training identities: using %d", batch_size, data.n_classes, data.n_classes)
            batch_size = data.n_classes
        self.sampler = make_sampler(method.sampling, data, batch_size, cfg.steps_per_epoch)
        self.n_steps = cfg.epochs * self.sampler.steps_per_epoch
        self.optimizer, self.scheduler = method.configure_optimizer(self.n_steps)
        self.rng = np.random.default_rng(cfg.seed)
        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "best_metric": math.inf, "best_epoch": 0, "bad_epochs": 0}

    # -- resume ---------------------------------------------------------------------------------
    def _restore(self) -> bool:
        found = resolve_checkpoint(self.ckpt_dir / "last")
        if found is None:
            return False
        state, _ = load_checkpoint(found, self.method)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"], self.rng)
        self.state = dict(state["trainer"])
        if self.metrics_path.exists():  # drop lines written after the checkpoint (crash in between)
            keep = [ln for ln in self.metrics_path.read_text().splitlines() if ln.strip()]
            keep = [ln for ln in keep if json.loads(ln)["epoch"] <= self.state["epoch"]]
            self.metrics_path.write_text("".join(ln + "\n" for ln in keep))
        log.info("resumed %s after epoch %d (step %d)", self.run_dir, self.state["epoch"], self.state["step"])
        return True

    def _save_last(self) -> None:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": capture_rng(self.rng),
            "trainer": dict(self.state),
        }
        meta = {"epoch": self.state["epoch"], "step": self.state["step"], "method": type(self.method).__name__}
        save_checkpoint(self.ckpt_dir / "last", self.method, state, meta)

    # -- loop -----------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> dict[str, Any]:
        """Run the remaining epochs; return a summary (status, best epoch, best metric, epochs run)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self._restore()
        elif resolve_checkpoint(self.ckpt_dir / "last") is not None:
            raise FileExistsError(f"{self.run_dir} already holds a checkpoint: resume it or choose another run dir")
        stop_after = self.cfg.stop_after_epoch or (int(os.environ[STOP_ENV]) if os.environ.get(STOP_ENV) else None)
        status = "complete"
        with EpochProgress(self.cfg.epochs, self.sampler.steps_per_epoch, enabled=self.cfg.progress) as bar:
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
        return {"status": status, **{k: self.state[k] for k in ("epoch", "step", "best_epoch", "best_metric")}}

    def _epoch(self, bar: EpochProgress) -> dict[str, Any]:
        m, cfg, epoch = self.method, self.cfg, self.state["epoch"]
        m.train()
        m.on_epoch_start(epoch, cfg.epochs)
        sums: dict[str, torch.Tensor] = {}
        n_batches = n_samples = 0
        t0 = time.perf_counter()
        for batch in self.sampler.epoch(epoch, cfg.epochs, self.rng, m):
            weights = m.sample_weights(batch.labels)
            if weights is not None:
                batch.weights = weights
            out = m.training_step(batch, self.state["step"], epoch)
            loss = out["loss"]
            if not torch.isfinite(loss):
                terms = {k: float(v) for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1}
                raise FloatingPointError(f"non-finite loss at epoch {epoch + 1}, step {self.state['step']}: {terms}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(m.parameters(), cfg.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            m.on_step_end(batch, out, self.state["step"])
            for k, v in out.items():
                if torch.is_tensor(v) and v.numel() == 1:
                    sums[k] = sums.get(k, 0.0) + v.detach().float()
            n_batches += 1
            n_samples += int(batch.labels.shape[0])
            self.state["step"] += 1
            bar.step()
        train_time = time.perf_counter() - t0
        self.state["epoch"] = epoch + 1
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.state["step"]}
        record.update({f"train_{k}": float(v) / max(n_batches, 1) for k, v in sums.items()})
        record.update(lr=float(self.optimizer.param_groups[0]["lr"]), train_time_s=train_time)
        record["samples_per_s"] = n_samples / train_time if train_time > 0 else float("nan")
        record.update(self._validate_and_select(epoch + 1))
        self._save_last()
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        return record

    def _validate_and_select(self, epoch: int) -> dict[str, Any]:
        due = epoch % self.cfg.val_every == 0 or epoch == self.cfg.epochs
        if self.cfg.selection == "last" or self.val is None or not due:
            out: dict[str, Any] = {}
            improved = self.cfg.selection == "last" or self.val is None
        else:
            t0 = time.perf_counter()
            out = self.val.evaluate(self.method)
            out["val_time_s"] = time.perf_counter() - t0
            metric = out["val_metric"]
            improved = bool(np.isfinite(metric) and metric < self.state["best_metric"])
            if improved:
                self.state["best_metric"] = float(metric)
        if improved:
            self.state["best_epoch"], self.state["bad_epochs"] = epoch, 0
            info = {"epoch": epoch, "selection": self.cfg.selection, **out}
            save_checkpoint(self.ckpt_dir / "best", self.method, {"best": info}, {"epoch": epoch})
            (self.ckpt_dir / "best.json").write_text(json.dumps(info, indent=2))
        elif out:
            self.state["bad_epochs"] += 1
        out["best"] = improved
        return out
