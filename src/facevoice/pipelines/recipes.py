"""Finding and loading the YAML recipes under ``configs/<benchmark>/<method>.yaml``.

A recipe may be named by path (``configs/simvox1/fop.yaml``) or as ``<benchmark>/<method>``
(``simvox1/fop``), looked up in ``$FACEVOICE_CONFIGS``, ``./configs`` and the repository's
``configs/`` folder, in that order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from facevoice.core.config import apply_overrides, load_config, parse_override
from facevoice.interop.feature_csv import parse_test_specs
from facevoice.pipelines.run import train


def config_roots() -> list[Path]:
    """Folders searched for ``<benchmark>/<method>.yaml``."""
    roots = []
    if os.environ.get("FACEVOICE_CONFIGS"):
        roots.append(Path(os.environ["FACEVOICE_CONFIGS"]))
    roots.append(Path.cwd() / "configs")
    roots.append(Path(__file__).resolve().parents[3] / "configs")
    return [r for i, r in enumerate(roots) if r.is_dir() and r not in roots[:i]]


def available_recipes() -> list[str]:
    """Every ``<benchmark>/<name>`` found (files starting with ``_`` are shared bases, not recipes)."""
    found = set()
    for root in config_roots():
        for path in root.glob("*/*.yaml"):
            if not path.name.startswith("_"):
                found.add(f"{path.parent.name}/{path.stem}")
    return sorted(found)


def resolve_recipe(spec: str | Path) -> Path:
    """Path of a recipe given as a file path or ``<benchmark>/<method>``."""
    path = Path(spec)
    if path.is_file():
        return path
    name = str(spec).removesuffix(".yaml")
    for root in config_roots():
        cand = root / f"{name}.yaml"
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"recipe {spec!r} not found (as a file or <benchmark>/<method>); available: {available_recipes()}"
    )


def load_recipe(spec: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Resolved recipe dict (``base:`` merged, dotted overrides applied), with ``_recipe`` = its path."""
    path = resolve_recipe(spec)
    cfg = load_config(path, list(overrides))
    cfg["_recipe"] = str(path)
    return cfg


def apply_cli_data(
    cfg: Mapping[str, Any],
    *,
    data: str | None = None,
    face_csv: str | None = None,
    voice_csv: str | None = None,
    tests: Iterable[str] = (),
    overrides: Iterable[str] = (),
) -> dict[str, Any]:
    """Replace the recipe's data source by ``--data`` (a bundle folder) or ``--face-csv/--voice-csv``.

    ``tests``: ``NAME=FACE_CSV,VOICE_CSV`` verification lists (FOP-style, row i of both = trial i).
    ``overrides``: the command line's dotted overrides; its ``data.*`` ones (``data.val.face_csv=``,
    ``data.tests.NAME.labels=parity``, ...) are applied again on top of the replaced section, so they
    are never lost (keys the options set, like ``data.face_csv``, stay with the options).
    """

    cfg = dict(cfg)
    section = dict(cfg.get("data") or {})
    if data and (face_csv or voice_csv):
        raise ValueError("give either --data (a bundle folder) or --face-csv/--voice-csv, not both")
    replaced = bool(data or face_csv or voice_csv)
    if data:
        section = {"source": "bundle", "path": str(data)}
    if face_csv or voice_csv:
        if not (face_csv and voice_csv):
            raise ValueError("--face-csv and --voice-csv go together (row-aligned training features)")
        # feature sizes are read from the files (every column but the last, the label)
        section = {"source": "feature_csv", "face_csv": str(face_csv), "voice_csv": str(voice_csv)}
    lists = dict(section.get("tests") or {})
    lists.update(parse_test_specs(tests))
    if lists:
        section["tests"] = lists
    if replaced:
        option_keys = (["data", "source"], ["data", "path"], ["data", "face_csv"], ["data", "voice_csv"])
        again = [
            o for o in overrides if (k := parse_override(o)[0])[0] == "data" and len(k) > 1 and k not in option_keys
        ]
        section = apply_overrides({"data": section}, again)["data"]
    cfg["data"] = section
    return cfg


def train_recipe(
    recipe: str | Path,
    overrides: Iterable[str] = (),
    *,
    data: str | None = None,
    face_csv: str | None = None,
    voice_csv: str | None = None,
    tests: Iterable[str] = (),
    seed: int | None = None,
    out: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """What ``facevoice train`` runs: load the recipe, apply overrides and data options, train; return the run dir."""

    overrides = list(overrides)
    cfg = apply_cli_data(
        load_recipe(recipe, overrides),
        data=data,
        face_csv=face_csv,
        voice_csv=voice_csv,
        tests=tests,
        overrides=overrides,
    )
    section = dict(cfg.get("train") or {})
    if seed is not None:
        section["seed"] = int(seed)
    if out is not None:
        section["out"] = str(out)
    section["resume"] = bool(resume)
    section.setdefault("progress", progress)
    cfg["train"] = section
    return train(cfg)
