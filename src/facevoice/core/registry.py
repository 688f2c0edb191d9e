"""One registry per pluggable kind (heads, losses, encoders, methods, ...), filled beside each class.

Usage::

    HEADS = Registry("head", package="facevoice.heads")

    @HEADS.register("fop")              # in facevoice/heads/fop.py, right above the class
    class FOPHead(nn.Module): ...

    head = HEADS.create("fop", d_face=4096, d_voice=512, n_classes=1211)

``package``: the registry imports every module of that package the first time it is asked for a
name it does not hold (or for the full list), so the decorators beside the classes run only when
an entry is needed: importing the package that owns the registry stays cheap (no torch, no
transformers). Entries may also be registered as lazy ``"module.path:attr"`` strings, and any
``"module.path:attr"`` given as a *name* is imported directly (plug-ins outside the package).

Unknown names raise :class:`UnknownNameError` (a ``KeyError`` and a ``ValueError``) whose message is
one line listing the valid names; :meth:`Registry.create` turns an unknown keyword argument into a
one-line ``ValueError`` listing the accepted ones.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any


class UnknownNameError(KeyError, ValueError):
    """A name no registry entry answers to; ``str()`` is the plain one-line message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry:
    """A name -> factory mapping for one kind of pluggable component."""

    def __init__(self, kind: str, package: str | None = None, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.package = package
        self._entries: dict[str, Any] = {}
        self._discovered = package is None

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

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in withdrawn, a test's throwaway entry); unknown names are ignored."""
        self._entries.pop(name.lower(), None)

    def discover(self) -> None:
        """Import every module of :attr:`package` once, so that the registrations beside the classes run."""
        if self._discovered:
            return
        self._discovered = True  # set first: a module that looks a name up while being imported must not recurse
        root = importlib.import_module(str(self.package))
        for info in pkgutil.walk_packages(root.__path__, f"{root.__name__}."):
            importlib.import_module(info.name)

    def get(self, name: str) -> Any:
        """Return the registered object (resolving lazy strings); raise listing the valid names.

        ``"package.module:attr"`` (with a colon) is imported directly, registered or not.
        """
        if ":" in name:
            return _import_attr(name)
        key = name.lower()
        if key not in self._entries:
            self.discover()
        if key not in self._entries:
            valid = ", ".join(self.names()) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid {self.plural}: {valid}")
        target = self._entries[key]
        if isinstance(target, str):
            target = _import_attr(target)
            self._entries[key] = target
        return target

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Instantiate (call) the entry registered under ``name``; unknown keywords raise one clear line."""
        target = self.get(name)
        check_keywords(f"{self.kind} {name!r}", target, kwargs)
        return target(*args, **kwargs)

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name.lower() not in self._entries:
            self.discover()
        return name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def keyword_names(target: Callable[..., Any]) -> list[str] | None:
    """The keyword arguments ``target`` accepts, or None when it takes ``**kwargs`` (anything goes)."""
    params = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds]


def check_keywords(what: str, target: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """Raise one ``ValueError`` line naming the unknown keywords of ``kwargs`` and the accepted ones."""
    valid = keyword_names(target)
    unknown = [] if valid is None else sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"{what}: unknown argument(s) {unknown}; valid: {valid}")


def _import_attr(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)
