"""Finding and loading the YAML recipes shipped in ``facevoice/recipes/<benchmark>/<method>.yaml``.

A recipe is named by path (``my/fop.yaml``) or as ``<benchmark>/<method>`` (``simvox1/fop``,
``finetune/tiny_smoke``). Names are looked up in ``$FACEVOICE_RECIPES`` (a folder of
``<benchmark>/<method>.yaml`` files; several separated by ``os.pathsep``), then in the recipes
installed with the package (:func:`packaged_recipes_root`, found through ``importlib.resources`` so an
installed wheel has them too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from facevoice.core.config import apply_overrides, load_config, parse_override
from facevoice.interop.feature_csv import parse_test_specs
from facevoice.pipelines.run import train

RECIPES_ENV = "FACEVOICE_RECIPES"


def packaged_recipes_root() -> Path:
    """The ``recipes`` folder inside the installed ``facevoice`` package."""
    return Path(str(resources.files("facevoice") / "recipes"))


def recipe_roots() -> list[Path]:
    """Folders searched for ``<benchmark>/<method>.yaml``, in order."""
    roots = [Path(p) for p in os.environ.get(RECIPES_ENV, "").split(os.pathsep) if p]
    roots.append(packaged_recipes_root())
    return [r for i, r in enumerate(roots) if r.is_dir() and r not in roots[:i]]


def available_recipes() -> list[str]:
    """Every ``<benchmark>/<name>`` found (files starting with ``_`` are shared bases, not recipes)."""
    found = set()
    for root in recipe_roots():
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
    for root in recipe_roots():
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


def replace_data(
    cfg: Mapping[str, Any],
    *,
    bundle: str | None = None,
    face_csv: str | None = None,
    voice_csv: str | None = None,
    tests: Iterable[str] = (),
    overrides: Iterable[str] = (),
    labels: str | None = None,
) -> dict[str, Any]:
    """Replace the recipe's data source by a ``bundle`` folder or row-aligned ``face_csv`` / ``voice_csv``.

    ``tests``: ``NAME=FACE_CSV,VOICE_CSV[,KEY]`` verification lists (FOP-style, row i of both = trial i;
    ``KEY`` a ``trial_id label`` file); ``labels``: their label source (``auto``, ``identity``, ``parity``).
    ``overrides``: the dotted overrides of the run; its ``data.*`` ones (``data.val.face_csv=``,
    ``data.tests.NAME.labels=parity``, ...) are applied again on top of the replaced section, so they
    are never lost (keys the arguments set, like ``data.face_csv``, stay with the arguments).
    """

    cfg = dict(cfg)
    section = dict(cfg.get("data") or {})
    if bundle and (face_csv or voice_csv):
        raise ValueError("give either a bundle folder or face/voice feature CSVs, not both")
    replaced = bool(bundle or face_csv or voice_csv)
    if bundle:
        section = {"source": "bundle", "path": str(bundle)}
    if face_csv or voice_csv:
        if not (face_csv and voice_csv):
            raise ValueError("a face feature CSV and a voice feature CSV go together (row-aligned training features)")
        # feature sizes are read from the files (every column but the last, the label)
        section = {"source": "feature_csv", "face_csv": str(face_csv), "voice_csv": str(voice_csv)}
    lists = dict(section.get("tests") or {})
    given = parse_test_specs(tests)
    if labels is not None:  # how the lists given here are labelled (auto | identity | parity)
        given = {name: {**spec, "labels": labels} for name, spec in given.items()}
    lists.update(given)
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
    labels: str | None = None,
) -> Path:
    """What ``facevoice train`` runs: load the recipe, apply overrides and data options, train; return the run dir."""

    overrides = list(overrides)
    cfg = replace_data(
        load_recipe(recipe, overrides),
        bundle=data,
        face_csv=face_csv,
        voice_csv=voice_csv,
        tests=tests,
        overrides=overrides,
        labels=labels,
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
