"""Build an encoder from command-line style arguments (name, source, ``key=value`` options)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facevoice.encoders import Encoder, create_encoder, encoder_takes_source


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["layer=6", "pooling=mean"]`` → ``{"layer": 6, "pooling": "mean"}`` (values parsed as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"encoder option {pair!r} is not key=value")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def load_source(source: str | None) -> str | dict[str, Any] | None:
    """A ``.json``/``.yaml`` file holds a config dict (tiny or custom models); anything else is a hub
    name or a local model folder."""
    if source is None:
        return None
    p = Path(source)
    if p.is_file() and p.suffix.lower() in {".json", ".yaml", ".yml"}:
        import yaml

        text = p.read_text()
        cfg = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        if not isinstance(cfg, dict):
            raise ValueError(f"{p}: an encoder config file must hold a mapping")
        return cfg
    return source


def build_encoder(
    name: str, source: str | None = None, options: dict[str, Any] | None = None, device: str | None = None
) -> Encoder:
    """``build_encoder("wavlm", "microsoft/wavlm-base-plus", {"layer": 6})`` → Encoder."""
    kw = dict(options or {})
    if device is not None:
        kw["device"] = device
    if encoder_takes_source(name):
        if source is None:
            raise ValueError(f"encoder {name!r} needs a source (hub name, local model folder, or config .json/.yaml)")
        return create_encoder(name, source=load_source(source), **kw)
    if source is not None:
        raise ValueError(f"encoder {name!r} takes no source (its weights are packaged)")
    return create_encoder(name, **kw)
