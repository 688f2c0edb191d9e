"""The base class of every loss: declared named inputs, declared sizes, a dict of named terms out.

A subclass declares

* ``inputs``: the named inputs its ``forward`` requires, ``optional``: those it also accepts (names
  from :data:`facevoice.losses.registry.INPUTS`: ``features``, ``labels``, ``logits``, ``a``, ``b``,
  ``weights``); ``forward``'s parameters are exactly these names, checked when the class is defined;
* ``sizes``: constructor arguments the building method supplies (``n_classes``, ``dim``).

``forward(**inputs)`` returns ``{"loss": scalar to optimise, <term>: tensor, ...}``. A method holding
several tensors calls :meth:`Loss.compute` with all it can offer; the loss takes what it declares.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import nn

from facevoice.losses.registry import INPUTS, SIZES


class Loss(nn.Module):
    """A loss with declared named inputs (see the module docstring)."""

    inputs: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    sizes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        unknown = sorted((set(cls.inputs) | set(cls.optional)) - set(INPUTS))
        if unknown:
            raise TypeError(f"{cls.__name__} declares unknown input(s) {unknown}; valid: {list(INPUTS)}")
        bad_sizes = sorted(set(cls.sizes) - set(SIZES))
        if bad_sizes:
            raise TypeError(f"{cls.__name__} declares unknown size(s) {bad_sizes}; valid: {list(SIZES)}")
        params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
        if params != [*cls.inputs, *cls.optional]:
            raise TypeError(
                f"{cls.__name__}.forward takes {params}, its declared inputs are {[*cls.inputs, *cls.optional]}"
            )

    def compute(self, available: Mapping[str, torch.Tensor | None]) -> dict[str, torch.Tensor]:
        """Call the loss with the inputs it declares, picked from ``available`` (None = not available)."""
        missing = [n for n in self.inputs if available.get(n) is None]
        if missing:
            offered = sorted(k for k, v in available.items() if v is not None)
            raise ValueError(f"{type(self).__name__} needs input(s) {missing}; offered: {offered}")
        names = (*self.inputs, *self.optional)
        return self(**{n: available[n] for n in names if available.get(n) is not None})
