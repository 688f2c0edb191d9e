"""YAML recipes with dotted command-line overrides.

A recipe is a nested mapping. ``load_config(path, ["train.lr=1e-4", "head.fusion=gated"])``
reads it, follows an optional top-level ``base:`` key (a path relative to the recipe, merged
underneath), applies the overrides (values parsed as YAML scalars, so ``3``, ``1e-4``, ``true``,
``[1,2]`` and ``null`` get their natural types), and returns a plain dict. ``dump_config`` writes
the resolved config into a run directory so a run can be reproduced exactly.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from facevoice.core.files import write_atomic


class ConfigError(ValueError):
    """A recipe or an override is malformed."""


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` -> (["a", "b", "c"], parsed value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot parse value ({exc})") from exc
    # "1e-4" is a string in YAML 1.1; users mean a float
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value) if any(c in value.lower() for c in ".e") else value
    return [k for k in key.strip().split(".")], value


def apply_overrides(cfg: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``cfg`` with each dotted override applied (intermediate dicts are created)."""
    out = copy.deepcopy(dict(cfg))
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            elif not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {k!r} is a value, not a section")
            node = nxt
        node[keys[-1]] = value
    return out


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read a YAML recipe (following ``base:``) and apply dotted overrides."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config not found: {path}")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping at the top level")
    base = cfg.pop("base", None)
    if base:
        cfg = deep_merge(load_config(path.parent / base), cfg)
    return apply_overrides(cfg, overrides)


def dump_config(cfg: Mapping[str, Any], path: str | Path) -> Path:
    """Write a resolved config as YAML (atomically: a killed process leaves the previous file whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, yaml.safe_dump(_plain(cfg), sort_keys=False))


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj
