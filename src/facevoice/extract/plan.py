"""Shard plan, resume bookkeeping, process split and ordered prefetching for extraction.

The plan is a pure function of the manifest: the items of the encoder's modality, sorted by
``item_id``, cut into consecutive shards of ``shard_size``. Shard ``k`` belongs to rank
``k % world_size``. Because a shard is written atomically, a killed run leaves only whole shards;
re-running recomputes exactly the unfinished shards with the same batch composition, so the final
embeddings equal those of an uninterrupted run bit for bit (whatever the number of processes).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class WorkItem:
    item_id: str
    path: str  # as written in the manifest
    resolved: str  # absolute path used for reading ("" when the manifest row has no path)


@dataclass
class Shard:
    index: int
    items: list[WorkItem]

    def name(self, prefix: str = "s") -> str:
        """Unique shard file name: plan index + digest of the ids it holds."""
        digest = hashlib.sha1("\n".join(i.item_id for i in self.items).encode()).hexdigest()[:8]
        return f"{prefix}{self.index:06d}-{digest}"


def work_items(manifest: pd.DataFrame, modality: str, media_root: str | Path | None) -> list[WorkItem]:
    """Rows of ``modality`` sorted by item_id → work items (relative paths resolved on ``media_root``)."""
    rows = manifest[manifest["modality"] == modality]
    root = Path(media_root) if media_root is not None else Path.cwd()
    out = []
    for item_id, path in zip(rows["item_id"].astype(str), rows["path"].fillna("").astype(str), strict=True):
        resolved = "" if not path else str(Path(path) if Path(path).is_absolute() else root / path)
        out.append(WorkItem(item_id, path, resolved))
    return sorted(out, key=lambda w: w.item_id)


def make_shards(items: list[WorkItem], shard_size: int) -> list[Shard]:
    """Consecutive shards of ``shard_size`` items (the last one may be shorter)."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    return [Shard(k, items[s : s + shard_size]) for k, s in enumerate(range(0, len(items), shard_size))]


def pending_shards(shards: list[Shard], finished: set[str], rank: int, world: int) -> list[Shard]:
    """This rank's shards, restricted to unfinished items; empty shards dropped."""
    out = []
    for sh in shards:
        if sh.index % world != rank:
            continue
        todo = [i for i in sh.items if i.item_id not in finished]
        if todo:
            out.append(Shard(sh.index, todo))
    return out


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int


def dist_info(rank: int | None = None, world_size: int | None = None) -> DistInfo:
    """Rank and world size from arguments or the ``torchrun`` / ``accelerate launch`` environment."""
    env = os.environ
    r = int(rank if rank is not None else env.get("RANK", 0))
    w = int(world_size if world_size is not None else env.get("WORLD_SIZE", 1))
    if not 0 <= r < w:
        raise ValueError(f"rank {r} out of range for world size {w}")
    return DistInfo(r, w, int(env.get("LOCAL_RANK", r)))


def init_process_group(info: DistInfo) -> bool:
    """Join a torch.distributed group (gloo, used for one barrier) when launched by torchrun/accelerate.

    True if this call created the group (and :func:`leave_process_group` should end it)."""
    if info.world_size < 2 or "MASTER_ADDR" not in os.environ:
        return False
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    dist.init_process_group("gloo", rank=info.rank, world_size=info.world_size)
    return True


def leave_process_group(created: bool) -> None:
    if created:
        import torch.distributed as dist

        dist.destroy_process_group()


def barrier(joined: bool) -> None:
    """Wait for every rank (no-op outside a process group)."""
    import sys

    if joined or ("torch.distributed" in sys.modules and sys.modules["torch.distributed"].is_initialized()):
        import torch.distributed as dist

        dist.barrier()


def limit_heap_growth(threshold: int = 1 << 16) -> bool:
    """Serve allocations above ``threshold`` bytes with mmap (glibc ``M_MMAP_THRESHOLD``).

    Media buffers and activations of varying sizes otherwise fragment the brk heap once glibc's
    adaptive threshold has grown, and the process keeps growing with the manifest; a fixed threshold
    returns freed buffers to the OS. No-op (False) outside glibc.
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, int(threshold)))  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def ordered_prefetch(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int, window: int
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(item, fn(item))`` in input order, computing up to ``window`` results ahead on ``workers``
    threads (``workers=0``: sequential). Memory stays bounded by ``window`` whatever the input size."""
    if workers <= 0:
        for it in items:
            yield it, fn(it)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        queue: deque = deque()
        for it in items:
            queue.append((it, pool.submit(fn, it)))
            if len(queue) >= max(1, window):
                head, fut = queue.popleft()
                yield head, fut.result()
        while queue:
            head, fut = queue.popleft()
            yield head, fut.result()
