"""How the trainer applies a method's optimiser: ``flat`` (default), ``torch`` or ``fused`` (``train.optimizer_impl``).

A method's ``configure_optimizer`` returns a plain ``torch.optim`` optimiser (and maybe a scheduler bound
to it). On the CPU, torch runs Adam, AdamW and SGD one parameter tensor at a time (its multi-tensor
``foreach`` kernels are for accelerators only): per tensor and step some eight elementwise kernels, one
``.item()`` of the step counter and a Python loop. For the small heads trained here that is a fifth of
a step's time.

``flat``
    :class:`FlatOptimizer` keeps every trainable parameter of a group, its gradient and its optimiser
    moments as views into one contiguous buffer per group, and runs the *same* elementwise operations
    as torch's single-tensor step once over each buffer. Elementwise kernels give the same result
    whatever the tensor they run over, so parameters, moments and losses are bit-identical to the
    plain step (``tests/train/test_optim.py`` checks it for every supported setting). The per-parameter
    state torch keeps (``state[p]["exp_avg"]``, ``"step"``, ...) is the views themselves, so
    ``state_dict()`` / ``load_state_dict()``, checkpoints, schedulers and methods that reach into the
    optimiser (SSoS clears its state at the stage switch) see an ordinary optimiser. Any step the flat
    path does not cover exactly (a parameter without a gradient this step, per-parameter step counts
    that differ, an option such as ``amsgrad``, an optimiser class other than Adam / AdamW / SGD) is
    handed to torch's own ``step()``, on the same views.
``torch``
    the optimiser as the method built it.
``fused``
    torch's fused CPU kernels (``fused=True``): fewer passes over memory, but they round differently,
    so a run is reproducible with itself, not bit-identical to ``flat`` / ``torch``. Opt-in.

No library is used for the flat step: apex / DeepSpeed-style flat-buffer optimisers are CUDA-only and
would not reproduce torch's CPU arithmetic bit for bit, which is the point here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from facevoice.train.config import OPTIMIZER_IMPLS


def wrap_optimizer(optimizer: torch.optim.Optimizer, impl: str) -> Any:
    """The optimiser the trainer steps: ``optimizer`` itself (``torch``, ``fused``) or a :class:`FlatOptimizer`."""
    if impl not in OPTIMIZER_IMPLS:
        raise ValueError(f"train.optimizer_impl must be one of {list(OPTIMIZER_IMPLS)}, got {impl!r}")
    if impl == "fused":
        use_fused_kernels(optimizer)
        return optimizer
    if impl == "flat" and FlatOptimizer.supports(optimizer):
        return FlatOptimizer(optimizer)
    return optimizer


def use_fused_kernels(optimizer: torch.optim.Optimizer) -> None:
    """Switch an Adam / AdamW / SGD to torch's fused kernels (read from the param groups at every step)."""
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
        raise ValueError(f"train.optimizer_impl=fused supports Adam, AdamW and SGD, not {type(optimizer).__name__}")
    for group in optimizer.param_groups:
        group["fused"], group["foreach"] = True, False


class FlatOptimizer:
    """``optimizer`` (Adam, AdamW or SGD) stepped over one flat buffer per param group (module docstring).

    Construction moves every trainable parameter of ``optimizer`` into its group's buffer (``p.data``
    becomes a view; the ``Parameter`` objects, and so the module, stay the same). The object forwards
    ``param_groups``, ``state``, ``state_dict`` and ``load_state_dict`` to ``optimizer``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        if not self.supports(optimizer):
            raise ValueError(f"no flat step for {type(optimizer).__name__} with these options")
        self.optimizer = optimizer
        self.kind = "sgd" if isinstance(optimizer, torch.optim.SGD) else "adam"
        self.groups: list[_FlatGroup] = [_FlatGroup(g["params"]) for g in optimizer.param_groups]
        self._params = [p for g in self.groups for p in g.params]
        self._got_grad = [False] * len(self._params)
        # which parameters autograd wrote a gradient to since zero_grad: a zero in a pre-allocated
        # gradient buffer cannot tell "no gradient" (torch skips the tensor) from "a gradient of zero"
        self._hooks = [p.register_post_accumulate_grad_hook(self._marker(i)) for i, p in enumerate(self._params)]
        self._synced = False  # state views and step count in place (rebuilt after load / clear / fallback)
        self._step_count = 0.0

    # -- what the flat path covers -------------------------------------------------------------
    @staticmethod
    def supports(optimizer: torch.optim.Optimizer) -> bool:
        """Adam / AdamW / SGD (exact classes) on dense floating tensors of one device and dtype per group,
        with torch's single-tensor CPU options (no amsgrad, maximize, capturable, differentiable, foreach, fused)."""
        if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
            return False
        for group in optimizer.param_groups:
            if any(group.get(k) for k in ("amsgrad", "maximize", "capturable", "differentiable", "foreach", "fused")):
                return False
            if any(isinstance(group.get(k), torch.Tensor) for k in ("lr", "betas", "weight_decay", "momentum")):
                return False
            if isinstance(group.get("betas"), tuple) and any(isinstance(b, torch.Tensor) for b in group["betas"]):
                return False
            params = group["params"]
            if not params or any(not p.requires_grad for p in params):
                return False
            first = params[0]
            for p in params:
                if p.is_sparse or p.is_complex() or not p.is_floating_point() or not p.is_contiguous():
                    return False
                if p.device != first.device or p.dtype != first.dtype or p.device.type != "cpu":
                    return False
        return True

    # -- the torch.optim.Optimizer surface the trainer, schedulers and methods use --------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)  # fresh tensors: copied into the buffers at the next step
        self._synced = False

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradient buffers (``set_to_none`` is honoured through the hooks: a parameter that gets
        no gradient before the next step is stepped as torch would, i.e. skipped)."""
        for g in self.groups:
            g.zero_grad()
        self._got_grad = [False] * len(self._params)

    def close(self) -> None:
        """Remove the gradient hooks (the parameters stay views into the flat buffers)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []

    # -- the step -------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self) -> None:
        if not all(self._got_grad) or not self._sync_state():
            self._torch_step()
            return
        # what torch's patched ``Optimizer.step`` records for LR schedulers ("step() called before
        # scheduler.step()"), which the flat path bypasses
        self.optimizer._opt_called = True  # type: ignore[attr-defined]
        self._step_count += 1.0
        if self.kind == "adam":
            for fg, group in zip(self.groups, self.optimizer.param_groups, strict=True):
                torch._foreach_add_(fg.steps, 1)
                _adam(fg, group, self._step_count, decoupled=bool(group.get("decoupled_weight_decay", False)))
        else:
            for fg, group in zip(self.groups, self.optimizer.param_groups, strict=True):
                _sgd(fg, group, self.optimizer.state)

    def _torch_step(self) -> None:
        """torch's own step on the same views; parameters without a gradient are skipped, as torch does."""
        for p, got in zip(self._params, self._got_grad, strict=True):
            if not got:
                p.grad = None
        self.optimizer.step()
        self._synced = False  # torch may have created state tensors or stepped some counters only

    def _marker(self, i: int) -> Any:
        def mark(_: torch.Tensor) -> None:
            self._got_grad[i] = True

        return mark

    def _sync_state(self) -> bool:
        """Make the optimiser's per-parameter state views of the flat buffers; False: the flat step cannot
        reproduce torch here (state on some parameters only, or per-parameter step counts that differ)."""
        if self._synced and all(fg.state_is_views(self.optimizer.state) for fg in self.groups):
            return True
        self._synced = False
        state = self.optimizer.state
        has = [p in state and len(state[p]) > 0 for p in self._params]
        if self.kind == "sgd":
            for fg, group in zip(self.groups, self.optimizer.param_groups, strict=True):
                if group["momentum"] != 0 and not fg.adopt_sgd_state(state):
                    return False
        else:
            if any(has) and not all(has):
                return False
            steps = {float(state[p]["step"]) for p in self._params} if all(has) else {0.0}
            if len(steps) != 1:
                return False
            for fg in self.groups:
                fg.adopt_adam_state(state, fresh=not all(has))
            self._step_count = steps.pop()
        self._synced = True
        return True


class _FlatGroup:
    """One param group's parameters, gradients and optimiser moments as views into contiguous buffers."""

    def __init__(self, params: Iterable[torch.Tensor]) -> None:
        self.params = list(params)
        self.numels = [p.numel() for p in self.params]
        first = self.params[0]
        self.param = torch.empty(sum(self.numels), dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.param)
        self.param_views = self._views(self.param)
        self.grad_views = self._views(self.grad)
        for p, v in zip(self.params, self.param_views, strict=True):
            v.copy_(p.detach())
            p.data = v  # the Parameter object stays (the module and the optimiser keep referring to it)
        self.moments: dict[str, torch.Tensor] = {}
        self.moment_views: dict[str, list[torch.Tensor]] = {}
        self.steps: list[torch.Tensor] = []
        self.zero_grad()

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [v.view_as(p) for v, p in zip(flat.split(self.numels), self.params, strict=True)]

    def zero_grad(self) -> None:
        self.grad.zero_()
        for p, v in zip(self.params, self.grad_views, strict=True):
            if p.grad is not v:
                p.grad = v

    def state_is_views(self, state: Any) -> bool:
        if not self.moment_views:  # SGD before its first momentum step, or without momentum
            return not any(state.get(p) for p in self.params)
        for i, p in enumerate(self.params):
            st = state.get(p)
            if st is None:
                return False
            for name, views in self.moment_views.items():
                if st.get(name) is not views[i]:
                    return False
        return True

    def _adopt(self, state: Any, name: str, fresh: bool) -> None:
        """Move the per-parameter state tensors ``name`` into one buffer (zeros when ``fresh``)."""
        flat = self.moments.get(name)
        if flat is None:
            flat = self.moments[name] = torch.zeros_like(self.param)
            self.moment_views[name] = self._views(flat)
        views = self.moment_views[name]
        if fresh:
            flat.zero_()
        for p, v in zip(self.params, views, strict=True):
            st = state[p]
            if not fresh and st[name] is not v:
                v.copy_(st[name])
            st[name] = v

    def adopt_adam_state(self, state: Any, fresh: bool) -> None:
        for p in self.params:
            if fresh:
                # what torch's Adam creates for a parameter on its first step (non-capturable, non-fused)
                state[p] = {"step": torch.tensor(0.0, dtype=_scalar_dtype())}
        self._adopt(state, "exp_avg", fresh)
        self._adopt(state, "exp_avg_sq", fresh)
        self.steps = [state[p]["step"] for p in self.params]

    def adopt_sgd_state(self, state: Any) -> bool:
        """SGD momentum buffers: all present (adopted), or all absent (created at the first step)."""
        bufs = [state.get(p, {}).get("momentum_buffer") for p in self.params]
        if all(b is None for b in bufs):
            self.moment_views.pop("momentum_buffer", None)
            self.moments.pop("momentum_buffer", None)
            return True
        if any(b is None for b in bufs):
            return False
        self._adopt(state, "momentum_buffer", fresh=False)
        return True


def _scalar_dtype() -> torch.dtype:
    """torch's dtype for a non-fused step counter (``torch.optim.optimizer._get_scalar_dtype``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _adam(fg: _FlatGroup, group: dict[str, Any], step: float, decoupled: bool) -> None:
    """torch's ``_single_tensor_adam`` (non-capturable branch), operation for operation, over the flat buffers."""
    beta1, beta2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    param, grad = fg.param, fg.grad
    exp_avg, exp_avg_sq = fg.moments["exp_avg"], fg.moments["exp_avg_sq"]
    if wd != 0:
        if decoupled:
            param.mul_(1 - lr * wd)
        else:
            grad = grad.add(param, alpha=wd)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-step_size)


def _sgd(fg: _FlatGroup, group: dict[str, Any], state: Any) -> None:
    """torch's ``_single_tensor_sgd``, operation for operation, over the flat buffers."""
    lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
    dampening, nesterov = group["dampening"], group["nesterov"]
    grad = fg.grad
    if wd != 0:
        grad = grad.add(fg.param, alpha=wd)
    if momentum != 0:
        buf = fg.moments.get("momentum_buffer")
        if buf is None:
            # torch's first step: the buffer is a copy of the gradient, one tensor per parameter
            buf = fg.moments["momentum_buffer"] = grad.detach().clone()
            fg.moment_views["momentum_buffer"] = views = fg._views(buf)
            for p, v in zip(fg.params, views, strict=True):
                state.setdefault(p, {})["momentum_buffer"] = v
        else:
            buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = grad.add(buf, alpha=momentum) if nesterov else buf
    fg.param.add_(grad, alpha=-lr)


__all__ = ["OPTIMIZER_IMPLS", "FlatOptimizer", "use_fused_kernels", "wrap_optimizer"]
