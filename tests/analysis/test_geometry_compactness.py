"""Compactness gap on configurations with a known answer, and the per-encoder summary."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.analysis.geometry.encoder import compactness_gap, encoder_geometry, levina_bickel, twonn


def _fan(direction: np.ndarray, normal: np.ndarray, theta: float, n: int) -> np.ndarray:
    """n unit vectors at angles +-theta around ``direction`` in the plane spanned with ``normal``."""
    signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return np.cos(theta) * direction + np.sin(theta) * signs[:, None] * normal


def test_gap_of_fans_is_cos_theta():
    e = np.eye(4)
    theta = 0.4
    X = np.vstack([_fan(e[0], e[2], theta, 6), _fan(e[1], e[3], theta, 6)])
    labels = np.array(["a"] * 6 + ["b"] * 6)
    res = compactness_gap(3.0 * X, labels)  # scale must not matter (samples are L2-normalised)
    assert res.inter == pytest.approx(1.0)  # centroids e0 and e1 are orthogonal
    assert res.intra == pytest.approx(1.0 - np.cos(theta))
    assert res.gap == pytest.approx(np.cos(theta))
    assert res.n_identities == 2 and res.n_samples == 12 and res.dropped_identities == []


def test_small_identities_are_dropped_and_listed():
    e = np.eye(3)
    X = np.vstack([np.tile(e[0], (5, 1)), np.tile(e[1], (5, 1)), np.tile(e[2], (4, 1))])
    labels = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 4)
    res = compactness_gap(X, labels, min_samples=5)
    assert res.dropped_identities == ["c"]
    assert res.gap == pytest.approx(1.0) and res.intra == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least 2 identities"):
        compactness_gap(X, labels, min_samples=6)
    with pytest.raises(ValueError, match="labels"):
        compactness_gap(X, labels[:-1])


def test_gap_matches_loop_reference():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 8))
    labels = np.repeat(np.arange(10), 7)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = np.stack([Xn[labels == i].mean(0) for i in range(10)])
    Cn = C / np.linalg.norm(C, axis=1, keepdims=True)
    inter = np.mean([1 - Cn[i] @ Cn[j] for i in range(10) for j in range(i + 1, 10)])
    intra = np.mean([1 - Xn[s] @ Cn[labels[s]] for s in range(70)])
    res = compactness_gap(X, labels)
    assert res.inter == pytest.approx(inter) and res.intra == pytest.approx(intra)


def test_encoder_geometry_summary():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((30, 5)) @ np.linalg.qr(rng.standard_normal((40, 5)))[0].T
    labels = np.repeat(np.arange(30), 8)
    X = centres[labels] + 0.05 * rng.standard_normal((240, 40))
    out = encoder_geometry(X, labels, curvature_points=60, seed=0)
    for key in ("id_mle", "id_twonn", "curv_mean", "curv_gauss", "compactness_gap", "tangent_dim_median"):
        assert np.isfinite(out[key]), key
    assert out["n_samples"] == 240 and out["dim"] == 40 and out["n_identities"] == 30
    assert out["compactness_gap"] > 0.5  # tight identity clusters far apart
    assert out == encoder_geometry(X, labels, curvature_points=60, seed=0)
    # The shared kNN search gives the same figures as the stand-alone estimators.
    assert out["id_mle"] == pytest.approx(levina_bickel(X, k=20).estimate, rel=1e-12)
    assert out["id_twonn"] == pytest.approx(twonn(X).estimate, rel=1e-12)


def test_orl_faces_cluster_by_person(shared_data):
    """Real data: raw ORL face pixels are closer within a person than across people."""
    from PIL import Image

    paths = sorted((shared_data / "orl_faces").glob("s*/*.pgm"))
    assert len(paths) == 400, f"expected 400 ORL images under {shared_data / 'orl_faces'}, found {len(paths)}"
    X = np.stack([np.asarray(Image.open(p).resize((23, 28)), dtype=np.float64).ravel() for p in paths])
    X -= X.mean(axis=0)
    labels = np.array([p.parent.name for p in paths])
    res = compactness_gap(X, labels)
    assert res.n_identities == 40 and res.gap > 0.1
    out = encoder_geometry(X, labels, curvature_points=100)
    assert 3.0 < out["id_mle"] < 40.0
