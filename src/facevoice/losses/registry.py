"""The losses registry, the named inputs a loss may take, and :func:`create_loss`.

The calling convention (see :class:`facevoice.losses.base.Loss`): every loss declares which of the
named inputs below its ``forward`` takes (``inputs`` required, ``optional`` optional) and which
sizes the method that builds it must supply (``sizes``); ``forward`` returns a dict of named terms
plus ``"loss"``. A method that lets a recipe choose a loss (``method.loss: center``,
``method.loss_args: {...}``) offers a set of named inputs and builds the chosen loss with
:func:`create_loss` after :func:`check_inputs`. This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from facevoice.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

#: every loss, registered beside its class (``@LOSSES.register("center")``); filled on first lookup
LOSSES = Registry("loss", package="facevoice.losses", plural="losses")

#: the named inputs a loss may take, with their shapes (B = batch rows)
INPUTS: dict[str, str] = {
    "features": "(B, D) embeddings, one row per sample",
    "labels": "(B,) integer identity indices in [0, n_classes)",
    "logits": "(B, C) identity-classifier scores",
    "a": "(B, D) first side of row-aligned pairs (row i of a and b: one identity, e.g. a voice and a face)",
    "b": "(B, D) second side of the pairs",
    "weights": "(B,) per-sample weights",
    "pair_scores": "(B, B) score of every first-side row i against every second-side row j (pairs on the diagonal)",
}

#: sizes a loss may ask the method that builds it for (constructor arguments of the same name)
SIZES: dict[str, str] = {
    "n_classes": "number of training identities",
    "dim": "size D of the features the loss receives",
}


def create_loss(name: str, /, sizes: Mapping[str, int] | None = None, **args: Any) -> nn.Module:
    """The loss registered as ``name`` (a :class:`~facevoice.losses.base.Loss`), built with ``args`` and the ``sizes``
    it declares.

    ``sizes`` is what the building method knows (``{"n_classes": ..., "dim": ...}``); a loss takes only
    the ones it declares. Unknown names or arguments raise one line listing the valid ones.
    """
    cls = LOSSES.get(name)
    need = tuple(getattr(cls, "sizes", ()))
    offered = dict(sizes or {})
    missing = [s for s in need if s not in offered]
    if missing:
        raise ValueError(f"loss {name!r} needs the size(s) {missing} from the method that builds it")
    clash = sorted(set(need) & set(args))
    if clash:
        raise ValueError(f"loss {name!r}: {clash} are set by the method that builds it, not by loss arguments")
    return LOSSES.create(name, **{s: int(offered[s]) for s in need}, **args)


def losses_fitting(provides: Iterable[str]) -> list[str]:
    """Names of the registered losses whose required inputs are all in ``provides``."""
    have = set(provides)
    return [n for n in LOSSES.names() if set(getattr(LOSSES.get(n), "inputs", ())) <= have]


def check_inputs(owner: str, name: str, provides: Iterable[str]) -> None:
    """Raise one line if loss ``name`` needs an input ``owner`` (a method) does not provide."""
    provides = sorted(set(provides))
    need = tuple(getattr(LOSSES.get(name), "inputs", ()))
    missing = [n for n in need if n not in provides]
    if missing:
        raise ValueError(
            f"{owner}: loss {name!r} needs input(s) {missing}, which {owner} does not provide (it provides "
            f"{provides}); losses that fit: {', '.join(losses_fitting(provides))}"
        )
