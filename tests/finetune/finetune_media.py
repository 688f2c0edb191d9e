"""Simulated paired media for fine-tuning tests: wav voices and png faces with a shared identity latent.

Identity ``k`` has a latent ``z_k`` in [0, 1]: its voices are harmonic tones at ``140 + 260 z_k`` Hz
(random phase, amplitude and noise per recording), its faces are 40x40 images whose colour and
stripe frequency follow ``z_k`` (random brightness and pixel noise per image). A voice-to-face
mapping learned on training identities therefore transfers to unseen identities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.encoders.hf.common import tiny_config

# the registry's tiny offline test models (same configs the encoder tests use)
TINY_AUDIO = tiny_config("wavlm")
TINY_VISION = tiny_config("siglip")


def write_media(root: Path, n_ids: int = 8, per_id: int = 4, seconds: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Write ``per_id`` voices and faces for each of ``n_ids`` identities; return manifest records.

    Splits interleave over the latent (identity k: ``k % 4`` in 0, 1 → train, 2 → val, 3 → test_unseen),
    so validation and test identities lie inside the training range of ``z``.
    """
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    yy, xx = np.mgrid[0:40, 0:40] / 40.0
    rows = []
    for k in range(n_ids):
        z = (k + 0.5) / n_ids
        split = ("train", "train", "val", "test_unseen")[k % 4]
        for j in range(per_id):
            f0 = 140 + 260 * z
            wave = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in (1, 2, 3))
            wave = rng.uniform(0.2, 0.5) * wave / 2 + 0.02 * rng.standard_normal(t.size)
            vpath = root / f"id{k}_v{j}.wav"
            sf.write(vpath, wave.astype(np.float32), sr)
            stripes = np.sin(2 * np.pi * (2 + 6 * z) * xx + rng.uniform(0, 6.3))
            img = np.stack([z * np.ones_like(yy), 0.5 + 0.5 * stripes, (1 - z) * yy], axis=-1)
            img = np.clip(img * rng.uniform(0.8, 1.0) + 0.05 * rng.standard_normal(img.shape), 0, 1)
            fpath = root / f"id{k}_f{j}.png"
            Image.fromarray((img * 255).astype(np.uint8)).save(fpath)
            common = {"identity": f"id{k}", "split": split, "video": f"id{k}_s{j}", "gender": "mf"[k % 2]}
            rows.append({"item_id": f"v{k}_{j}", "modality": "voice", "path": str(vpath), **common})
            rows.append({"item_id": f"f{k}_{j}", "modality": "face", "path": str(fpath), **common})
    return pd.DataFrame(rows)


def tiny_config(manifest_path: Path, setting: str = "both", **train: object) -> dict:
    """A fast finetune recipe on the tiny encoders (dropout 0, so runs are exactly reproducible)."""
    return {
        "manifest": str(manifest_path),
        "seeds": [0],
        "voice_encoder": {"name": "wavlm", "source": dict(TINY_AUDIO)},
        "face_encoder": {"name": "siglip", "source": dict(TINY_VISION), "pooling": "mean", "detect_faces": False},
        "lora": {"setting": setting, "rank": 4, "alpha": 8, "dropout": 0.0, "targets": "all"},
        "model": {"embed_dim": 16, "head_hidden": 32, "head_dropout": 0.0},
        "data": {"crop_seconds": 0.25},
        "train": {
            "epochs": 2,
            "batch_size": 8,
            "warmup_steps": 1,
            "eval_batch_size": 8,
            "lr_lora": 1e-3,
            "progress": False,
        }
        | train,
        "eval": {"splits": ["test_unseen"]},
    }
