"""The trainer's execution context: one process (:class:`LocalContext`) or data parallel (:class:`AccelerateContext`).

The :class:`~facevoice.train.trainer.Trainer` runs every step through a context, which decides how the
step's forward is called, how gradients are computed and clipped and which process writes files:

* :class:`LocalContext` (the default): ``module.training_step`` called directly, ``loss.backward()``,
  ``torch.nn.utils.clip_grad_norm_`` — exactly what a single-process run does.
* :class:`AccelerateContext`: ``accelerate`` under ``torchrun`` or ``accelerate launch`` (gloo on CPU,
  NCCL on GPUs), mixed precision optional. The step is wrapped in a small module so that DDP (which
  hooks ``forward``) averages the gradients of the trainable parameters over processes. Only the main
  process writes; every process runs validation (the validator shards and gathers its items).

On a CPU machine ``accelerate`` must be told ``cpu=True``: otherwise every process started by
``torchrun`` runs as a world of one (and they overwrite each other's files). With it, the processes
form a gloo group; on GPUs they use NCCL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn


class LocalContext:
    """One process: steps, backward and clipping as plain torch calls; this process writes everything."""

    num_processes = 1
    process_index = 0
    is_main_process = True

    def prepare(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Callable[..., Any], Any]:
        """``(step function, optimizer)``: the module's own ``training_step`` and the optimiser unchanged."""
        return module.training_step, optimizer

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_grad_norm_(self, parameters: Iterable[torch.Tensor], max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def wait_for_everyone(self) -> None:
        """Nothing to wait for."""

    @contextlib.contextmanager
    def main_process_first(self) -> Iterator[None]:
        yield


class TrainingStep(nn.Module):
    """``forward(batch, step, epoch) = module.training_step(...)``: lets DDP wrap a trainable whose
    ``forward`` means something else (DDP's gradient hooks are armed by calling the wrapper's forward)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any, step: int, epoch: int) -> dict[str, torch.Tensor]:
        return self.module.training_step(batch, step, epoch)


class AccelerateContext:
    """Data parallel through ``accelerate`` (also a world of one, e.g. for mixed precision on a GPU).

    ``device``: ``auto`` (CUDA when available) or ``cpu``; ``mixed_precision``: ``no``, ``bf16``, ``fp16``.
    Data loaders are prepared with ``split_batches``: a global batch of ``B`` gives each of the ``W``
    processes ``B / W`` rows of the same global batch.
    """

    def __init__(self, device: str = "auto", mixed_precision: str = "no") -> None:
        self.accelerator = make_accelerator({"device": device, "mixed_precision": mixed_precision})

    @property
    def num_processes(self) -> int:
        return int(self.accelerator.num_processes)

    @property
    def process_index(self) -> int:
        return int(self.accelerator.process_index)

    @property
    def is_main_process(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def prepare(self, module: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Callable[..., Any], Any]:
        """``(DDP-wrapped step module, accelerate optimiser)``; ``module`` itself stays the unwrapped model."""
        step, optimizer = self.accelerator.prepare(TrainingStep(module), optimizer)
        return step, optimizer

    def prepare_loader(self, loader: Any) -> Any:
        return self.accelerator.prepare(loader)

    def backward(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)

    def clip_grad_norm_(self, parameters: Iterable[torch.Tensor], max_norm: float) -> None:
        self.accelerator.clip_grad_norm_([p for p in parameters if p.requires_grad], max_norm)

    def wait_for_everyone(self) -> None:
        self.accelerator.wait_for_everyone()

    def main_process_first(self) -> Any:
        return self.accelerator.main_process_first()

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return self.accelerator.gather(x)


def make_accelerator(train_cfg: Mapping[str, Any]) -> Any:
    """An ``accelerate.Accelerator`` with split (global) batches; ``cpu=True`` when CUDA is absent or
    ``train.device == "cpu"`` (without it every CPU rank runs as a world of one)."""
    from accelerate import Accelerator, DataLoaderConfiguration

    device = str(train_cfg.get("device", "auto"))
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    return Accelerator(
        cpu=cpu,
        mixed_precision=str(train_cfg.get("mixed_precision", "no")),
        dataloader_config=DataLoaderConfiguration(split_batches=True),
    )


def world_size() -> int:
    """Processes in the default ``torch.distributed`` group (1 when none is initialised)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x (b, D)`` from every process in rank order → ``(W*b, D)``; gradients flow back.

    A small autograd function rather than ``torch.distributed.nn.functional.all_gather``, which is
    deprecated in torch 2.13 in favour of a private module. Every process must pass the same ``b``.
    """
    return _AllGather.apply(x)


class _AllGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        ctx.rank, ctx.b = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every process's loss depends on this process's rows: sum their gradients
        return grad[ctx.rank * ctx.b : (ctx.rank + 1) * ctx.b]


def rank_spread(state: Mapping[str, torch.Tensor], context: Any) -> float:
    """Largest difference between processes of (sum, sum of squares, max |x|) of the trainable tensors.

    Data-parallel processes must hold identical parameters; a difference means they diverged.
    """
    if context.num_processes == 1:
        return 0.0
    vec = torch.cat([t.detach().double().flatten() for t in state.values()])
    stats = torch.stack([vec.sum(), (vec * vec).sum(), vec.abs().max()])[None].to(context.device)
    gathered = context.gather(stats)
    spread = float((gathered - gathered[:1]).abs().max())
    if spread > 0:
        raise RuntimeError(f"data-parallel processes diverged: trainable parameters differ by {spread:g}")
    return spread
