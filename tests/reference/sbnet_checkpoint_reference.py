"""Slow, obvious reference: a released SBNet checkpoint's eval-mode forward written out in numpy.

The released model (``ssnet_fop/retrieval_model.py``): ``embed_branch.fc1`` (and ``fc2``), each
Linear → BatchNorm1d → ReLU → Dropout; eval mode: BatchNorm uses its running statistics
(eps 1e-5) and Dropout is the identity; then ``x / max(||x||, 1e-12)``. Faces and voices go
through the same layers. The test script scores a face–voice pair by the distance between the
two outputs (squared L2 in its ROC; the FAME files hold the L2 distance, monotone with it).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64) if hasattr(t, "detach") else np.asarray(t, np.float64)


def sbnet_reference_embed(sd: Mapping, x) -> np.ndarray:
    """``(N, d_in)`` features → ``(N, dim)`` unit vectors (float64), layer by layer from the raw tensors."""
    h = np.asarray(x, dtype=np.float64)
    layer = 1
    while f"embed_branch.fc{layer}.0.weight" in sd:
        p = f"embed_branch.fc{layer}."
        h = h @ _np(sd[p + "0.weight"]).T + _np(sd[p + "0.bias"])
        mean, var = _np(sd[p + "1.running_mean"]), _np(sd[p + "1.running_var"])
        h = (h - mean) / np.sqrt(var + 1e-5) * _np(sd[p + "1.weight"]) + _np(sd[p + "1.bias"])
        h = np.maximum(h, 0.0)
        layer += 1
    norms = np.sqrt((h**2).sum(axis=1, keepdims=True))
    return h / np.maximum(norms, 1e-12)


def sbnet_reference_distance(sd: Mapping, face, voice) -> np.ndarray:
    """L2 distance ``(T,)`` between the branch outputs of row-aligned faces and voices."""
    f, v = sbnet_reference_embed(sd, face), sbnet_reference_embed(sd, voice)
    return np.sqrt(((f - v) ** 2).sum(axis=1))


def synthetic_sbnet_state(widths: list[int], n_classes: int, seed: int = 0) -> dict:
    """A state_dict in the released key layout with random weights and BatchNorm statistics.

    ``widths``: ``[d_in, w1]`` (one layer) or ``[d_in, w1, w2]`` (two layers). Running means and
    variances are far from 0 / 1 so a forward that skipped BatchNorm would not agree.
    """
    import torch

    rng = np.random.default_rng(seed)
    sd: dict = {}
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
        p = f"embed_branch.fc{i}."
        sd[p + "0.weight"] = rng.normal(0, 1 / np.sqrt(d_in), (d_out, d_in))
        sd[p + "0.bias"] = rng.normal(0, 0.1, d_out)
        sd[p + "1.weight"] = rng.uniform(0.5, 1.5, d_out)
        sd[p + "1.bias"] = rng.normal(0, 0.2, d_out)
        sd[p + "1.running_mean"] = rng.normal(0, 0.3, d_out)
        sd[p + "1.running_var"] = rng.uniform(0.2, 2.0, d_out)
        sd[p + "1.num_batches_tracked"] = np.int64(rng.integers(100, 10_000))
    sd["logits_layer.weight"] = rng.normal(0, 0.1, (n_classes, widths[-1]))
    sd["logits_layer.bias"] = rng.normal(0, 0.1, n_classes)
    out = {}
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(int(v), dtype=torch.long)
        else:
            out[k] = torch.from_numpy(np.asarray(v, dtype=np.float32))
    return out
