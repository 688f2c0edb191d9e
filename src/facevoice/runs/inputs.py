"""What a run was trained on, per modality: an encoder facevoice can run on new media, or features it cannot.

``run.json`` holds an ``inputs`` section written at training time::

    "inputs": {
      "face":  {"kind": "encoder", "tag": "dlib-face:...#e31262d78cc0b625", "dim": 128,
                "encoder": "dlib-face", "build": {"name": "dlib-face", "options": {"fallback": "whole"}}},
      "voice": {"kind": "features", "tag": "fop-csv:voices.csv", "dim": 512}
    }

``kind = "encoder"``: the embeddings came from a facevoice encoder whose construction arguments were
recorded by the extraction (``Encoder.describe()["build"]``), so new media can be embedded the same way.
``kind = "features"``: the inputs were pre-extracted elsewhere (FOP-style CSVs, simulated data, an
imported checkpoint); such a run embeds only vectors the user supplies. Runs written before this
section existed are read from their data fingerprint's encoder tags (:func:`run_inputs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from facevoice.data.bundle import EmbeddingBundle

INPUT_KINDS = ("encoder", "features")


def _modality_meta(meta: Mapping[str, Any], modality: str) -> Mapping[str, Any]:
    """The extraction description of ``modality`` in a bundle's ``meta``.

    A loaded bundle keeps each store's meta under its modality; a bundle saved again writes the whole
    per-modality dict into each store, so the description can sit one level deeper.
    """
    entry = meta.get(modality)
    for _ in range(2):
        if not isinstance(entry, Mapping):
            return {}
        if "encoder" in entry:
            return entry
        entry = entry.get(modality)
    return {}


def input_record(tag: str, dim: int, description: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``inputs`` entry of one modality, from its store tag, width and extraction description."""
    desc = dict(description or {})
    if desc.get("encoder") and desc.get("tag") == tag:
        return {
            "kind": "encoder",
            "tag": tag,
            "dim": int(dim),
            "encoder": str(desc["encoder"]),
            "build": desc.get("build"),
            "options": desc.get("options"),
            "weights_sha256": desc.get("weights_sha256"),
        }
    return {"kind": "features", "tag": tag, "dim": int(dim)}


def inputs_from_bundle(bundle: EmbeddingBundle) -> dict[str, dict[str, Any]]:
    """The ``inputs`` section for a run trained on ``bundle`` (one entry per modality it holds)."""
    return {
        m: input_record(bundle.tags.get(m, f"{m}-embeddings"), X.shape[1], _modality_meta(bundle.meta, m))
        for m, X in sorted(bundle.embeddings.items())
    }


def run_inputs(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``inputs`` of a run: the recorded section, else one ``features`` entry per modality from run.json.

    A run without the section (trained before it existed, or imported from a released checkpoint)
    gets ``kind = "features"`` with the encoder tag of its data fingerprint when there is one.
    """
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: not a facevoice run directory (no run.json)")
    info = json.loads(path.read_text())
    if isinstance(info.get("inputs"), dict):
        return {m: dict(v) for m, v in info["inputs"].items()}
    tags = (info.get("data") or {}).get("encoder_tags") or {}
    out = {}
    for m in ("face", "voice"):
        dim = info.get(f"d_{m}")
        if dim is not None:
            out[m] = {"kind": "features", "tag": tags.get(m, ""), "dim": int(dim)}
    return out
