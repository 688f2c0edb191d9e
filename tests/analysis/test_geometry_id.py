"""Intrinsic dimension and kNN on point sets with a known dimension."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.analysis.geometry.encoder import levina_bickel, twonn
from facevoice.analysis.geometry.knn import knn


def _embed(Z: np.ndarray, D: int, rng: np.random.Generator) -> np.ndarray:
    """Isometric embedding of (N, d) points into R^D by a random orthonormal frame, plus an offset."""
    Q, _ = np.linalg.qr(rng.standard_normal((D, Z.shape[1])))
    return Z @ Q.T + rng.standard_normal(D)


@pytest.mark.parametrize("d", [2, 5])
def test_id_linear_manifold(d):
    rng = np.random.default_rng(d)
    X = _embed(rng.uniform(size=(1500, d)), 60, rng)
    assert levina_bickel(X, k=20).estimate == pytest.approx(d, abs=0.15 * d + 0.1)
    assert twonn(X).estimate == pytest.approx(d, abs=0.15 * d + 0.1)


def test_id_curved_manifolds():
    rng = np.random.default_rng(1)
    # Swiss roll: a 2-D curved sheet in R^3, embedded in R^50.
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=1500))
    roll = np.stack([t * np.cos(t), 20 * rng.uniform(size=1500), t * np.sin(t)], axis=1)
    X = _embed(roll, 50, rng)
    assert levina_bickel(X).estimate == pytest.approx(2.0, abs=0.3)
    assert twonn(X).estimate == pytest.approx(2.0, abs=0.3)
    # The 3-sphere S^3 in R^4, embedded in R^40.
    S = rng.standard_normal((1500, 4))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    X = _embed(3.0 * S, 40, rng)
    assert levina_bickel(X).estimate == pytest.approx(3.0, abs=0.4)
    assert twonn(X).estimate == pytest.approx(3.0, abs=0.4)


def test_id_invariant_to_similarity_and_aggregates_agree():
    rng = np.random.default_rng(2)
    X = _embed(rng.standard_normal((800, 4)), 30, rng)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    base = levina_bickel(X).estimate
    assert levina_bickel(7.0 * X @ Q).estimate == pytest.approx(base, rel=1e-6)
    assert twonn(7.0 * X @ Q).estimate == pytest.approx(twonn(X).estimate, rel=1e-6)
    for agg in ("mean", "mackay"):
        assert levina_bickel(X, aggregate=agg).estimate == pytest.approx(base, rel=0.15)


def test_id_matches_direct_formula():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 6))
    k = 10
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(D, np.inf)
    T = np.sort(D, axis=1)[:, :k]
    per_point = 1.0 / np.mean(np.log(T[:, -1:] / T[:, :-1]), axis=1)
    res = levina_bickel(X, k=k)
    np.testing.assert_allclose(res.per_point, per_point, rtol=1e-10)
    assert res.estimate == pytest.approx(np.median(per_point))
    # TwoNN: least-squares slope through the origin of -log(1 - i/N) on log(mu_(i)), every point but the last.
    mu = np.sort(T[:, 1] / T[:, 0])
    x, y = np.log(mu[:-1]), -np.log(1 - np.arange(1, 200) / 200)
    assert twonn(X).estimate == pytest.approx(x @ y / (x @ x), rel=1e-10)
    x, y = x[:180], y[:180]  # Facco et al.'s variant without the largest 10% of ratios
    assert twonn(X, discard_fraction=0.1).estimate == pytest.approx(x @ y / (x @ x), rel=1e-10)


def test_equidistant_neighbourhoods_have_no_estimate():
    X = np.vstack([np.eye(30), 5.0 + np.random.default_rng(6).standard_normal((200, 30))])
    res = levina_bickel(X, k=5)
    assert np.isinf(res.per_point[:30]).all() and np.isfinite(res.estimate)
    assert res.estimate == pytest.approx(np.median(res.per_point[30:]))
    with pytest.raises(ValueError, match="equidistant"):
        levina_bickel(np.eye(30), k=5)


def test_duplicates_are_removed_and_counted():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 3))
    Xd = np.vstack([X, X[:25]])
    res = levina_bickel(Xd)
    assert res.n_duplicates == 25 and res.n_points == 300
    assert np.isfinite(res.estimate)
    assert res.estimate == pytest.approx(levina_bickel(X).estimate)
    assert twonn(Xd).n_duplicates == 25


def test_bad_input_raises():
    with pytest.raises(ValueError, match="NaN"):
        levina_bickel(np.full((50, 3), np.nan))
    with pytest.raises(ValueError, match="aggregate"):
        levina_bickel(np.eye(30), aggregate="mode")
    with pytest.raises(ValueError, match="k < N"):
        levina_bickel(np.random.default_rng(0).standard_normal((10, 3)), k=20)


def test_knn_backends_agree_with_brute_force():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 16))
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(D, np.inf)
    ref_idx = np.argsort(D, axis=1)[:, :7]
    ref_dist = np.take_along_axis(D, ref_idx, axis=1)
    for backend in ("faiss", "sklearn"):
        dist, idx = knn(X, 7, backend=backend)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    q = np.array([5, 17, 299])
    dist, idx = knn(X, 7, queries=q)
    np.testing.assert_array_equal(idx, ref_idx[q])


def test_knn_excludes_self_with_duplicates():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    dist, idx = knn(X, 2)
    assert not np.any(idx == np.arange(4)[:, None])
    assert idx[0, 0] == 1 and dist[0, 0] == 0.0
