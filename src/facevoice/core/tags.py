"""Short display names for encoder tags, for figures and console tables.

An encoder tag (``facevoice.encoders.base.Encoder.tag``) is ``name:option=value,...#weights-hash``,
e.g. ``dlib-face:fallback=skip,jitters=0,landmarks=5,padding=0.25,upsample=auto,video_frames=4#1a2b...``:
exact, and far too long for an axis label (a CKA heatmap on the real VoxCeleb1 sample lost its labels
to it). :func:`display_names` keeps the encoder name and adds only what tells two tags of a set
apart (the options whose values differ, then the hash); feature-CSV tags ``csv:<path>`` keep the
file name. Files and JSON keep the full tags; only what a person reads is shortened.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

__all__ = ["display_name", "display_names"]


def _parts(tag: str) -> tuple[str, dict[str, str], str]:
    """(name, options, hash) of ``name:k=v,...#hash``; a tag of another form is all name."""
    body, _, digest = str(tag).partition("#")
    name, sep, opts = body.partition(":")
    if not sep:
        return body, {}, digest
    if name == "csv":  # feature-CSV stores: csv:<path>
        return f"csv:{PurePath(opts).name}", {}, digest
    options = {}
    for item in opts.split(","):
        key, eq, value = item.partition("=")
        if eq:
            options[key.strip()] = value.strip()
    return name, options, digest


def _short_value(value: str) -> str:
    return PurePath(value).name if "/" in value else value  # hub names / paths: the last part


def display_names(tags: Iterable[str]) -> dict[str, str]:
    """Tag -> short unique name: the encoder name, plus the options that differ within a name, plus a hash
    prefix only when options do not tell them apart."""
    tags = list(dict.fromkeys(str(t) for t in tags))
    parsed = {t: _parts(t) for t in tags}
    by_name: dict[str, list[str]] = {}
    for t, (name, _, _) in parsed.items():
        by_name.setdefault(name, []).append(t)
    out = {}
    for name, group in by_name.items():
        if len(group) == 1:
            out[group[0]] = name
            continue
        keys = sorted({k for t in group for k in parsed[t][1]})
        differing = [k for k in keys if len({parsed[t][1].get(k) for t in group}) > 1]
        for t in group:
            opts = parsed[t][1]
            extra = " ".join(f"{k}={_short_value(opts[k])}" for k in differing if k in opts)
            out[t] = f"{name} {extra}".strip()
        labels = [out[t] for t in group]
        if len(set(labels)) < len(labels):
            for t in group:
                out[t] = f"{out[t]} #{parsed[t][2][:6]}" if parsed[t][2] else out[t]
    return out


def display_name(tag: str) -> str:
    """Short name of one tag (the encoder name; a feature CSV's file name)."""
    return display_names([tag])[str(tag)]
