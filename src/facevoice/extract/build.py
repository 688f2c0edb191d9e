"""Build an encoder from command-line style arguments (name, source, ``key=value`` options)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facevoice.encoders import ENCODERS, Encoder, create_encoder, encoder_takes_source
from facevoice.encoders.base import check_options


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
    """``build_encoder("wavlm", "microsoft/wavlm-base-plus", {"layer": 6})`` → Encoder.

    User errors (an unknown encoder or option, a bad option value) raise ``ValueError`` in one line
    naming the valid choices.
    """
    entry = resolve_encoder(name)
    options = dict(options or {})
    check_options(name, entry, options)
    kw = dict(options)
    if device is not None:
        kw["device"] = device
    hf = encoder_takes_source(name)
    if hf and source is None:
        raise ValueError(f"encoder {name!r} needs a source (hub name, local model folder, or config .json/.yaml)")
    if not hf and source is not None:
        raise ValueError(f"encoder {name!r} takes no source (its weights are packaged)")
    try:
        return create_encoder(name, source=load_source(source), **kw) if hf else create_encoder(name, **kw)
    except (TypeError, ValueError) as exc:  # a bad option value (wrong type, out of range, unknown choice)
        given = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "no options"
        raise ValueError(f"encoder {name!r} ({given}): {exc}") from exc


def resolve_encoder(name: str):
    """The registry entry of ``name``; an unknown name raises ``ValueError`` listing the encoders (and the closest)."""
    import difflib

    try:
        return ENCODERS.get(name)
    except KeyError:
        names = ENCODERS.names()
        close = difflib.get_close_matches(name.lower(), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown encoder {name!r}{hint}; valid encoders: {', '.join(names)}") from None
