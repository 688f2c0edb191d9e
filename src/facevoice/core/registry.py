"""One registry per pluggable kind (heads, losses, encoders, methods, datasets, ...).

Usage::

    HEADS = Registry("head")

    @HEADS.register("fop")
    class FOPHead(nn.Module): ...

    head = HEADS.create("fop", d_face=4096, d_voice=512)

Unknown names raise a ``KeyError`` that lists the valid ones. Entries may also be registered
lazily as ``"module.path:attr"`` strings so that heavy imports happen only when the entry is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any


class Registry:
    """A name -> factory mapping for one kind of pluggable component."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, obj: Any = None, *, overwrite: bool = False) -> Callable[[Any], Any] | Any:
        """Register ``obj`` under ``name``; used bare as a decorator when ``obj`` is None.

        ``obj`` may be a class, a function, or a lazy ``"package.module:attr"`` string.
        """
        key = name.lower()

        def _add(target: Any) -> Any:
            if key in self._entries and not overwrite and self._entries[key] is not target:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[key] = target
            return target

        if obj is None:
            return _add
        return _add(obj)

    def get(self, name: str) -> Any:
        """Return the registered object (resolving lazy strings); raise listing valid names."""
        key = name.lower()
        if key not in self._entries:
            valid = ", ".join(sorted(self._entries)) or "(none registered)"
            raise KeyError(f"unknown {self.kind} {name!r}; valid {self.kind}s: {valid}")
        target = self._entries[key]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[key] = target
        return target

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Instantiate (call) the entry registered under ``name``."""
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
