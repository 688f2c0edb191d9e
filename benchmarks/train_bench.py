"""Training throughput (samples/s) of every registered method on cached embeddings (plain script, not a test).

Usage: python benchmarks/train_bench.py [--methods fop,sbnet,...] [--steps 30] [--threads 1] [--sim] [--json out.json]

Data: VoxCeleb1-sized cached embeddings (901 training identities x 6 items per modality,
4096-d faces, 512-d voices), Gaussian by default or the simulated ``vox1`` preset with ``--sim``.
Each method runs through the real trainer (``facevoice.pipelines.run.train``) for two epochs of
``--steps`` steps at its default batch size (``selection=last``: no validation in the timing);
samples/s is the trainer's own per-epoch figure (the second epoch, warm), ms/step follows from it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def gaussian_bundle(n_ids: int = 901, per_id: int = 6, d_face: int = 4096, d_voice: int = 512, seed: int = 0):
    """A train-only bundle of random embeddings with the sizes of the VoxCeleb1 feature release."""
    from facevoice.data.bundle import EmbeddingBundle
    from facevoice.data.manifest import make_manifest

    rng = np.random.default_rng(seed)
    rows = [
        {"item_id": f"{m[0]}{i}_{j}", "identity": f"id{i}", "modality": m, "split": "train"}
        for m in ("face", "voice")
        for i in range(n_ids)
        for j in range(per_id)
    ]
    n = n_ids * per_id
    emb = {
        "face": rng.standard_normal((n, d_face), dtype=np.float32),
        "voice": rng.standard_normal((n, d_voice), dtype=np.float32),
    }
    return EmbeddingBundle(make_manifest(pd.DataFrame(rows)), emb)


def bench_method(name: str, bundle, steps: int, threads: int, device: str) -> dict:
    """Two epochs of ``steps`` steps; the second epoch's samples/s."""
    from facevoice.pipelines.run import train

    cfg = {
        "method": {"name": name},
        "train": {
            "epochs": 2,
            "steps_per_epoch": steps,
            "selection": "last",
            "progress": False,
            "num_threads": threads,
            "device": device,
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = train(cfg, bundle=bundle, run_dir=Path(tmp) / "run")
        wall = time.perf_counter() - t0
        info = json.loads((run / "run.json").read_text())
        metrics = run / "metrics.jsonl"  # absent for a training-free method
        rows = [json.loads(x) for x in metrics.read_text().splitlines()] if metrics.exists() else []
    if not rows:  # a training-free method: report its fit time
        return {"method": name, "fit_time_s": info.get("fit_time_s"), "wall_s": wall}
    warm = rows[-1]
    batch = warm["samples_per_s"] * warm["train_time_s"] / steps
    return {
        "method": name,
        "batch_size": round(batch),
        "samples_per_s": warm["samples_per_s"],
        "ms_per_step": 1000 * warm["train_time_s"] / steps,
        "params": info["n_trainable_parameters"],
        "wall_s": wall,
    }


def main() -> None:
    from facevoice.methods import METHODS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS.names()))
    parser.add_argument("--steps", type=int, default=30, help="optimiser steps per epoch (2 epochs, the 2nd timed)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sim", action="store_true", help="use the simulated vox1 preset instead of Gaussian data")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.sim:
        from facevoice.simceleb.simulate import simulate

        bundle = simulate("vox1", seed=0).bundle
    else:
        bundle = gaussian_bundle()
    results = [bench_method(m, bundle, args.steps, args.threads or None, args.device) for m in args.methods.split(",")]
    table = pd.DataFrame(results)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
