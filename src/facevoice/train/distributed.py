"""Data-parallel helpers: the accelerator, an all-gather that passes gradients, a divergence check.

On a CPU machine ``accelerate`` must be told ``cpu=True``: otherwise every process started by
``torchrun`` runs as a world of one (and they overwrite each other's files). With it, the processes
form a gloo group; on GPUs they use NCCL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


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


def rank_spread(state: Mapping[str, torch.Tensor], acc: Any) -> float:
    """Largest difference between processes of (sum, sum of squares, max |x|) of the trainable tensors.

    Data-parallel processes must hold identical parameters; a difference means they diverged.
    """
    if acc.num_processes == 1:
        return 0.0
    vec = torch.cat([t.detach().double().flatten() for t in state.values()])
    stats = torch.stack([vec.sum(), (vec * vec).sum(), vec.abs().max()])[None].to(acc.device)
    gathered = acc.gather(stats)
    spread = float((gathered - gathered[:1]).abs().max())
    if spread > 0:
        raise RuntimeError(f"data-parallel processes diverged: trainable parameters differ by {spread:g}")
    return spread
