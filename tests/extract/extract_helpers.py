"""Helpers for extraction tests: writing small media files, running the CLI in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def write_voices(folder: Path, n: int, seed: int, seconds=(1.0, 2.5)) -> None:
    """``n`` speech-like wavs (harmonic tone bursts in noise) of random lengths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sr = int(rng.choice([8000, 16000, 22050]))
        t = np.arange(int(sr * rng.uniform(*seconds))) / sr
        f0 = rng.uniform(90, 250)
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        x = 0.2 * x / np.abs(x).max() + 0.01 * rng.standard_normal(len(t))
        sf.write(folder / f"{i:03d}.wav", x.astype(np.float32), sr)


def write_faces(folder: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")


def run_cli(args: list[str], wait: bool = True, **kw):
    """Run ``python -m facevoice extract ...`` (or another module) in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, *args]
    if wait:
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, **kw)
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
