"""Using a trained run: rebuild its method, embed cached embeddings, project a whole bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from facevoice.backends.scores import CosineScore
from facevoice.data.bundle import EmbeddingBundle
from facevoice.methods import create_method
from facevoice.methods.base import Method
from facevoice.runs.checkpoint import load_checkpoint


def load_method(run_dir: str | Path, which: str = "best", device: str = "cpu") -> Method:
    """Rebuild a run's method and load its ``best`` (or ``last``) weights; returned in eval mode."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(
            f"{run_dir}: not a facevoice run directory (no run.json; train or import-checkpoint one first)"
        )
    info = json.loads((run_dir / "run.json").read_text())
    method = create_method(info["method"], info["d_face"], info["d_voice"], info["n_classes"], info["hparams"])
    load_checkpoint(run_dir / "checkpoints" / which, method)
    return method.to(device).eval()


@torch.no_grad()
def embed_array(
    method: Method, X: np.ndarray, modality: str, batch_size: int = 4096, device: str = "cpu"
) -> np.ndarray:
    """``method.embed`` over (N, D) cached embeddings in batches -> (N, D_out) float32 (eval mode)."""
    method.eval()
    out = [
        method.embed(torch.as_tensor(np.asarray(X[i : i + batch_size], dtype=np.float32), device=device), modality)
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(out).float().cpu().numpy()


def method_pair_scores(method: Method, face: np.ndarray, voice: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Scores ``(T,)`` of row-aligned face ``(T, Df)`` / voice ``(T, Dv)`` features under the method's own
    scoring: cosine of its ``embed`` outputs, or its score back-end (e.g. PLDA log-likelihood ratios)."""
    backend = method.score_backend()
    f = backend.vectors(embed_array(method, face, "face", device=device), "face")
    v = backend.vectors(embed_array(method, voice, "voice", device=device), "voice")
    return np.asarray(backend.pair_scores(f, v), dtype=np.float64)


def embed_run(run_dir: str | Path, data: str | Path, out: str | Path, which: str = "best", device: str = "cpu") -> Path:
    """Project a bundle folder ``data`` through a run's method and save the result as a bundle at ``out``.

    The saved bundle (same manifest, ``embed`` outputs, tags ``<run>:<which>:<modality>``) can be
    scored with ``facevoice evaluate --bundle`` on any trial list or protocol folder.
    """
    bundle = EmbeddingBundle.load(data)
    method = load_method(run_dir, which, device=device)
    if not isinstance(method.score_backend(), CosineScore):
        raise ValueError(
            f"{run_dir}: method {type(method).__name__} scores with its own back-end, not the cosine of embeddings; "
            "score data with it through `facevoice evaluate --run RUN --bundle DATA ...` (or test-lists / benchmark)"
        )
    for m, X in bundle.embeddings.items():
        want = method.d_face if m == "face" else method.d_voice
        if X.shape[1] != want:
            raise ValueError(f"{data}: {m} embeddings are {X.shape[1]}-d but the run {run_dir} expects {want}-d")
    emb = {m: embed_array(method, X, m, device=device) for m, X in bundle.embeddings.items()}
    tags = {m: f"{Path(run_dir).resolve().name}:{which}:{m}" for m in emb}
    return bundle.with_embeddings(emb, tags).save(out)
