"""A small feature bundle on disk and real runs trained on it (pre-extracted features: no media encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.pipelines.run import train


def feature_bundle(n_ids: int = 30, per_id: int = 5, d_face: int = 24, d_voice: int = 16, seed: int = 0):
    """Identities with a latent z; face = A z + noise, voice = B z + noise; 20 train, the rest test."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n_ids, 6))
    A, B = rng.normal(size=(6, d_face)), rng.normal(size=(6, d_voice))
    rows, F, V = [], [], []
    for k in range(n_ids):
        split = "train" if k < 20 else "test_unseen"
        for modality, M, out in (("face", A, F), ("voice", B, V)):
            for j in range(per_id):
                rows.append(
                    {"item_id": f"{modality}:p{k:02d}/{j}", "identity": f"p{k:02d}", "modality": modality,
                     "path": f"/media/{modality}/p{k:02d}_{j}", "video": f"v{j}", "split": split}
                )  # fmt: skip
                out.append(Z[k] @ M + 0.7 * rng.normal(size=M.shape[1]))
    manifest = make_manifest(pd.DataFrame(rows))
    emb = {"face": np.asarray(F, np.float32), "voice": np.asarray(V, np.float32)}
    return EmbeddingBundle(manifest, emb, tags={"face": "feat-face", "voice": "feat-voice"})


def train_run(bundle: EmbeddingBundle, out: Path, seed: int = 0, epochs: int = 3) -> Path:
    config = {
        "benchmark": "search-test",
        "method": {"name": "contrastive", "lr": 1e-2},
        "train": {"epochs": epochs, "batch_size": 32, "selection": "last", "seed": seed, "progress": False},
    }
    run = train(config, bundle=bundle, run_dir=out, resume=False)
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    return run
