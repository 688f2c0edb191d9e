"""The main job: simulate the VoxCeleb1-like benchmark, train and evaluate every method, write a
report.

``run_demo`` is ``facevoice benchmark simvox1`` with a short schedule: one seed, a few epochs per
method (``epochs``) for every trainable registered method (``simvox1/<method>`` recipe where there
is one, else the method's defaults), the training-free CCA baseline (and CCA + the PLDA back-end)
and the simulator's Bayes-optimal oracle as reference rows, every protocol (unseen-unheard and seen-
heard verification with random/G/N/A/GNA negatives, 1:N matching for N = 2..10 in both directions,
retrieval), and a report folder with Markdown tables, ROC / DET curves and 1:N accuracy against N.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from facevoice.methods import trainable_methods
from facevoice.pipelines.benchmark.runner import load_benchmark, run_benchmark


def demo_config(
    out: str | Path,
    seeds: Sequence[int] = (0,),
    epochs: int | None = 8,
    methods: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    sim_options: Mapping[str, Any] | None = None,
) -> dict:
    """The benchmark config of the demo (the ``simvox1`` recipes with a shorter schedule).

    ``methods``: default every trainable registered method. ``sim_options`` override fields of the
    simulator's ``vox1`` preset (e.g. ``n_identities``).
    """

    extra = [f"train.epochs={int(epochs)}"] if epochs else []
    methods = list(methods) if methods else trainable_methods()
    cfg = load_benchmark("simvox1", methods=methods, seeds=list(seeds), overrides=[*extra, *overrides])
    cfg["out"] = str(out)
    cfg["benchmark"] = "demo_simvox1"
    cfg["backend_rows"] = ["cca"]  # the back-end alone on CCA; every method's +plda row is the full benchmark's
    if sim_options:
        cfg["data"] = {**cfg["data"], "options": {**dict(cfg["data"].get("options") or {}), **dict(sim_options)}}
    return cfg


def run_demo(
    out: str | Path = "demo_out",
    seeds: Sequence[int] = (0,),
    epochs: int | None = 8,
    methods: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    progress: bool = True,
    sim_options: Mapping[str, Any] | None = None,
) -> Path:
    """Run the demo into ``out`` (re-running resumes: finished runs are reused); return the report path."""

    out = Path(out)
    run_benchmark(demo_config(out, seeds, epochs, methods, overrides, sim_options), progress=progress)
    return out / "report.md"
