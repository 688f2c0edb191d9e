"""A training epoch's scalar loss terms, summed on the device, with the non-finite-loss check deferred.

The trainer used to test ``torch.isfinite(loss)`` and add every scalar term to its own running sum at
every step: one Python-side boolean (a host sync on an accelerator) and one small kernel per term. Here
a step's terms are stacked into one vector (one kernel) and added to the epoch's running vector (one
more); the losses of the last :data:`CHECK_EVERY` steps are checked together, at the end of the epoch,
and before an exception from the step is let through, so a non-finite loss still raises
:class:`FloatingPointError` naming its epoch, step and terms.

The sums are bit-identical to the per-term sums: each element is still added in step order
(``0 + t1 + t2 + ...`` in float32); stacking only batches the additions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

CHECK_EVERY = 64  # steps between deferred checks: bounded memory, one sync per this many steps


class EpochTerms:
    """Running sums of the scalar tensors of each step's output, and the deferred finiteness check."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.n_steps = 0
        self._keys: tuple[str, ...] | None = None
        self._acc: torch.Tensor | None = None  # sums, in the order of _keys, while every step has those terms
        self._sums: dict[str, Any] = {}  # per-term sums once the terms vary from step to step
        self._pending: list[tuple[int, tuple[str, ...], torch.Tensor]] = []

    def add(self, out: Mapping[str, Any], step: int) -> None:
        """Add step ``step``'s scalar terms (``out["loss"]`` is the one checked for finiteness)."""
        keys = tuple(k for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1)
        vec = torch.stack([out[k].detach().float().reshape(()) for k in keys])
        if self._acc is not None and keys != self._keys:  # terms changed: per-term sums from here on
            self._sums = dict(zip(self._keys, self._acc.unbind(), strict=True))
            self._acc = None
        if not self._sums and self._acc is None and self.n_steps == 0:
            self._keys, self._acc = keys, vec + 0.0  # = the per-term ``0.0 + t`` (a -0.0 term sums to +0.0)
        elif self._acc is not None:
            self._acc.add_(vec)
        else:
            for k, v in zip(keys, vec.unbind(), strict=True):
                self._sums[k] = self._sums.get(k, 0.0) + v
        self.n_steps += 1
        self._pending.append((step, keys, vec))
        if len(self._pending) >= CHECK_EVERY:
            self.check()

    def check(self) -> None:
        """Raise :class:`FloatingPointError` for the first pending step whose loss is not finite."""
        pending, self._pending = self._pending, []
        with_loss = [(s, k, v) for s, k, v in pending if "loss" in k]
        if not with_loss:
            return
        losses = torch.stack([v[k.index("loss")] for _, k, v in with_loss])
        finite = torch.isfinite(losses)
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0, 0])
        step, keys, vec = with_loss[first]
        terms = {k: float(x) for k, x in zip(keys, vec.tolist(), strict=True)}
        raise FloatingPointError(f"non-finite loss at epoch {self.epoch + 1}, step {step}: {terms}")

    def means(self) -> dict[str, float]:
        """``{term: mean over the epoch's steps}`` (checks the pending steps first)."""
        self.check()
        sums = self._sums if self._acc is None else dict(zip(self._keys, self._acc.unbind(), strict=True))
        return {k: float(v) / max(self.n_steps, 1) for k, v in sums.items()}
