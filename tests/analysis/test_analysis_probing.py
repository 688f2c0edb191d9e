"""Layer-wise identity probing recovers a signal planted in a chosen layer of a tiny vision model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from facevoice.analysis.probing import layerwise_probe, plot_probe, probe_layers
from facevoice.encoders import create_encoder

TINY = dict(family="siglip", hidden_size=32, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8)


def _planted_faces(root: Path, n_ids: int = 4, per_id: int = 10, seed: int = 0) -> pd.DataFrame:
    """Identity k: a random 8x8x3 patch Q_k placed with sign +1 on 8 and -1 on 8 of the 16 patches
    (random arrangement per image), plus pixel noise. Averaged over patches the pattern cancels, so a
    mean-pooled *linear* view (the patch embedding) sees only noise; a nonlinear layer reveals |Q_k|."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_ids):
        q = rng.uniform(-1, 1, (8, 8, 3))
        for j in range(per_id):
            signs = rng.permutation(np.repeat([1.0, -1.0], 8))
            img = np.zeros((32, 32, 3))
            for t, s in enumerate(signs):
                r, c = divmod(t, 4)
                img[8 * r : 8 * r + 8, 8 * c : 8 * c + 8] = s * q
            img = np.clip(np.round(128 + 60 * img + 10 * rng.standard_normal(img.shape)), 0, 255)
            path = root / f"id{k}_{j}.png"
            Image.fromarray(img.astype(np.uint8)).save(path)
            rows.append(
                {"item_id": f"id{k}_{j}", "identity": f"id{k}", "modality": "face", "split": "train", "path": str(path)}
            )
    return pd.DataFrame(rows)


def test_probe_finds_the_planted_layer(tmp_path: Path) -> None:
    faces = _planted_faces(tmp_path)
    enc = create_encoder("siglip", source={**TINY, "num_hidden_layers": 3}, pooling="mean", detect_faces=False)
    layers = enc.backbone.model.encoder.layers
    with torch.no_grad():  # transformer layer 1 becomes the identity map: hidden state 1 == hidden state 0
        for lin in (layers[0].self_attn.out_proj, layers[0].mlp.fc2):
            lin.weight.zero_()
            lin.bias.zero_()
        layers[1].mlp.fc1.weight.mul_(4.0)  # the chosen layer (hidden state 2): a strongly nonlinear MLP
    res = layerwise_probe(enc, faces, test_size=0.5, seed=0)
    acc = res.table.set_index("layer")["accuracy"]
    assert list(acc.index) == [0, 1, 2, 3]
    assert acc[2] >= 0.9 and res.best_layer() == 2
    assert acc[0] <= 0.6 and acc[1] <= 0.6 and acc[0] == acc[1]
    assert res.table["chance"].iloc[0] == pytest.approx(0.25) and res.table["n_test"].iloc[0] == 20
    png = plot_probe({"tiny": res.table, "other": res.table.iloc[:3]}, tmp_path / "probe.png")
    assert png.stat().st_size > 1000


def test_probe_layers_on_features_and_bad_input() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 8)
    X = rng.standard_normal((3, 40, 6))
    X[1] += 3.0 * np.eye(6)[labels]  # only layer 1 separates the identities
    table = probe_layers(X, labels, test_size=0.25, seed=0)
    assert table["accuracy"].idxmax() == 1 and table.loc[1, "accuracy"] >= 0.8
    assert table.loc[0, "accuracy"] < 0.6
    with pytest.raises(ValueError, match="two identities"):
        probe_layers(X, np.zeros(40))
    with pytest.raises(ValueError, match=r"\(L, N, D\)"):
        probe_layers(X[0], labels)


def test_probe_reports_skips_and_single_item_identities(tmp_path: Path) -> None:
    faces = _planted_faces(tmp_path, n_ids=3, per_id=4)
    extra = [
        {"item_id": "lonely", "identity": "solo", "modality": "face", "split": "train", "path": faces.path[0]},
        {"item_id": "gone", "identity": "id0", "modality": "face", "split": "train", "path": str(tmp_path / "x.png")},
        {"item_id": "voice", "identity": "id0", "modality": "voice", "split": "train", "path": "unused.wav"},
    ]
    enc = create_encoder("siglip", source={**TINY, "num_hidden_layers": 1}, pooling="mean", detect_faces=False)
    res = layerwise_probe(enc, pd.concat([faces, pd.DataFrame(extra)]), test_size=0.34)
    assert [s["item_id"] for s in res.skipped] == ["gone"] and res.skipped[0]["reason"] == "missing"
    assert res.dropped_identities == ["solo"] and int(res.table["n_classes"].iloc[0]) == 3
    capped = layerwise_probe(enc, faces, test_size=0.5, max_per_identity=2)
    assert int(capped.table["n_train"].iloc[0] + capped.table["n_test"].iloc[0]) == 6  # 3 identities x 2 items
