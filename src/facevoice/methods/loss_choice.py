"""A method's choosable loss: ``method.loss`` names a registered loss, ``method.loss_args`` its arguments.

A method that lets the recipe choose says which named inputs it offers the loss (``provides``, names
from :data:`facevoice.losses.INPUTS`), which sizes it knows (``n_classes``, ``dim``) and, per loss
name, which of its own hyper-parameters stand for which loss argument (``legacy``: SBNet's
``alpha_c`` is the centre loss's ``weight``); ``loss_args`` override those. Refused with one line
listing the valid choices: a loss that needs an input the method cannot offer, an unknown loss or
argument, and a hyper-parameter set away from its default that belongs to a loss not chosen
(it would be ignored silently otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from facevoice.losses import check_inputs, create_loss

#: loss name -> {loss argument: the method hyper-parameter that sets it}
LegacyArgs = Mapping[str, Mapping[str, str]]


def build_chosen_loss(
    method: str,
    hp: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    provides: Iterable[str],
    sizes: Mapping[str, int],
    legacy: LegacyArgs | None = None,
    fixed: Mapping[str, Mapping[str, Any]] | None = None,
) -> torch.nn.Module:
    """The loss ``hp["loss"]`` built with, in rising priority: ``fixed[name]`` (arguments the method
    derives itself), its ``legacy`` hyper-parameters, ``hp["loss_args"]``."""
    name = str(hp["loss"])
    extra = hp.get("loss_args") or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"method {method!r}: loss_args must be a mapping of argument: value, got {extra!r}")
    check_inputs(f"method {method!r}", name, provides)
    legacy = legacy or {}
    mine = set(legacy.get(name, {}).values())
    for other, params in legacy.items():
        for param in params.values():
            if other != name and param not in mine and hp.get(param) != defaults.get(param):
                raise ValueError(
                    f"method {method!r}: {param} is an argument of loss {other!r}, not of the chosen {name!r}; "
                    "set the chosen loss's arguments with loss_args"
                )
    args = {**dict((fixed or {}).get(name, {})), **{a: hp[p] for a, p in legacy.get(name, {}).items()}, **dict(extra)}
    return create_loss(name, sizes=sizes, **args)


def detached_terms(
    terms: Mapping[str, torch.Tensor], prefix: str | None = None, rename: Mapping[str, str] | None = None
) -> dict[str, torch.Tensor]:
    """Detached copies of a loss's terms for the training log.

    With a ``prefix`` (the loss name): ``"loss"`` becomes ``prefix`` and every other term ``prefix_term``;
    without one, the terms keep their names and ``"loss"`` is left out (the caller returns its own).
    ``rename`` replaces substrings of the names (``{"a2b": "v2f"}`` when ``a`` holds the voices).
    """
    out = {}
    for key, value in terms.items():
        if key == "loss" and prefix is None:
            continue
        name = (prefix if key == "loss" else f"{prefix}_{key}") if prefix else key
        for old, new in (rename or {}).items():
            name = name.replace(old, new)
        out[name] = value.detach()
    return out
