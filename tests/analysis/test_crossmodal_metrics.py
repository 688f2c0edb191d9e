"""CKA, Gromov-Wasserstein, spectral-gap divergence, ID mismatch and centroids on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.analysis.crossmodal.metrics import (
    aligned_centroids,
    cosine_cost,
    gromov_wasserstein,
    id_mismatch,
    identity_centroids,
    laplacian_spectrum,
    linear_cka,
    rbf_cka,
    spectral_gap_divergence,
)


def _orth(d: int, rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((d, d)))[0]


def _naive_cka(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    hsic = lambda A, B: np.trace(A @ H @ B @ H)  # noqa: E731
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("shape", [(80, 20), (30, 50)])  # feature form (N >= D) and Gram form (N < D)
def test_linear_cka_matches_hsic_definition(shape):
    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape)
    Y = X[:, :10] @ rng.standard_normal((10, 15)) + rng.standard_normal((shape[0], 15))
    assert linear_cka(X, Y) == pytest.approx(_naive_cka(X @ X.T, Y @ Y.T), rel=1e-10)


def test_cka_identity_orthogonal_and_scale_invariance():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 12))
    Y = np.tanh(X @ rng.standard_normal((12, 8)))
    Xt = 4.5 * X @ _orth(12, rng)
    for cka in (linear_cka, rbf_cka):
        assert cka(X, X) == pytest.approx(1.0)
        assert cka(X, Xt) == pytest.approx(1.0)
        assert cka(Xt, Y) == pytest.approx(cka(X, Y), rel=1e-9)
        assert cka(Y, X) == pytest.approx(cka(X, Y), rel=1e-12)
        assert 0.0 <= cka(X, Y) <= 1.0


def test_cka_low_for_independent_data():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((400, 10)), rng.standard_normal((400, 10))
    assert linear_cka(X, Y) < 0.1
    assert rbf_cka(X, Y) < 0.1


def test_rbf_cka_matches_explicit_kernel():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((40, 7))

    def gram(A, frac):
        D = np.linalg.norm(A[:, None] - A[None], axis=2)
        sigma = frac * np.median(D[np.triu_indices(len(A), 1)])
        return np.exp(-(D**2) / (2 * sigma**2))

    for frac in (0.5, 1.0):
        assert rbf_cka(X, Y, sigma_frac=frac) == pytest.approx(_naive_cka(gram(X, frac), gram(Y, frac)), rel=1e-9)


def test_cka_input_checks():
    with pytest.raises(ValueError, match="row-aligned"):
        linear_cka(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((5, 2)), np.random.default_rng(0).standard_normal((5, 2)))


def test_gromov_wasserstein_isometric_and_not():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((120, 16))
    Y = 2.0 * X @ _orth(16, rng)
    assert abs(gromov_wasserstein(X, Y)) < 1e-8
    assert abs(gromov_wasserstein(X, Y[rng.permutation(120)])) < 1e-8  # no alignment needed
    other = gromov_wasserstein(X, rng.standard_normal((120, 3)))
    assert other > 1e-3


def test_gromov_wasserstein_subsample_is_seeded():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((90, 8)), rng.standard_normal((90, 6))
    a = gromov_wasserstein(X, Y, max_points=40, seed=1)
    assert a == gromov_wasserstein(X, Y, max_points=40, seed=1)
    assert a != gromov_wasserstein(X, Y, max_points=40, seed=2)


def test_cosine_cost_scaled():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    C = cosine_cost(X)
    np.testing.assert_allclose(C, [[0, 0.5, 1], [0.5, 0, 0.5], [1, 0.5, 0]], atol=1e-12)


def test_spectral_gap_divergence():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((150, 10))
    Y = 3.0 * X @ _orth(10, rng)
    assert spectral_gap_divergence(X, Y) == pytest.approx(0.0, abs=1e-9)
    # Two well-separated clusters leave a near-zero second eigenvalue: a different spectrum.
    Z = np.vstack([rng.standard_normal((75, 10)) + 8, rng.standard_normal((75, 10)) - 8])
    assert spectral_gap_divergence(X, Z) > 0.05
    s = laplacian_spectrum(X, k=20, n_eigs=50)
    assert s.shape == (50,) and s[0] == pytest.approx(0.0, abs=1e-9) and s[-1] == pytest.approx(1.0)
    assert np.all(np.diff(s) >= -1e-12)


def test_laplacian_spectrum_matches_dense_construction():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 5))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    D = np.linalg.norm(Xn[:, None] - Xn[None], axis=2)
    np.fill_diagonal(D, np.inf)
    A = np.zeros((60, 60))
    for i, row in enumerate(np.argsort(D, axis=1)[:, :8]):
        A[i, row] = 1
    A = np.maximum(A, A.T)
    d = A.sum(1)
    L = np.eye(60) - A / np.sqrt(np.outer(d, d))
    ev = np.linalg.eigvalsh(L)[:20]
    np.testing.assert_allclose(laplacian_spectrum(X, k=8, n_eigs=20), ev / ev.max(), atol=1e-10)


def test_laplacian_spectrum_sparse_solver_matches_dense():
    X = np.random.default_rng(10).standard_normal((400, 6))
    np.testing.assert_allclose(laplacian_spectrum(X, dense_max=100), laplacian_spectrum(X), atol=1e-8)


def test_id_mismatch_of_different_dimensions():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((800, 3)) @ rng.standard_normal((3, 30))
    B = rng.standard_normal((800, 8)) @ rng.standard_normal((8, 30))
    gap, ia, ib = id_mismatch(A, B)
    assert ia == pytest.approx(3, abs=0.5) and ib == pytest.approx(8, abs=1.5)
    assert gap == pytest.approx(abs(ia - ib))


def test_identity_centroids_and_alignment():
    X = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    ids, C = identity_centroids(X, np.array(["b", "a", "b", "c"]))
    assert ids.tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(C, [[0, 1], [1, 0], [0, 1]])
    rng = np.random.default_rng(9)
    F, V = rng.standard_normal((8, 4)), rng.standard_normal((6, 3))
    common, Cf, Cv = aligned_centroids(F, np.array(list("aabbccdd")), V, np.array(list("ddbbcc")))
    assert common.tolist() == ["b", "c", "d"] and Cf.shape == (3, 4) and Cv.shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(Cf, axis=1), 1.0)
    with pytest.raises(ValueError, match="both modalities"):
        aligned_centroids(F, np.array(list("aabbccdd")), V, np.array(list("xxyyzz")))


def test_centroids_of_raw_or_normalised_samples():
    X = np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    lab = np.array(["a", "a", "b"])
    _, raw = identity_centroids(X, lab)  # published: mean of the raw outputs, then unit norm
    np.testing.assert_allclose(raw[0], [3, 1] / np.sqrt(10))
    _, pre = identity_centroids(X, lab, normalize_samples=True)
    np.testing.assert_allclose(pre[0], [1, 1] / np.sqrt(2))


def test_gromov_wasserstein_subsampling_conventions():
    import ot

    rng = np.random.default_rng(12)
    X, Y = rng.standard_normal((70, 8)), rng.standard_normal((70, 5))
    # Independent legacy-RandomState draws, X first (the published study's subsampling).
    rs = np.random.RandomState(3)
    ix, iy = rs.choice(70, 30, replace=False), rs.choice(70, 30, replace=False)
    want = ot.gromov.gromov_wasserstein2(cosine_cost(X[ix]), cosine_cost(Y[iy]), ot.unif(30), ot.unif(30))
    assert gromov_wasserstein(X, Y, max_points=30, seed=3) == pytest.approx(float(want), rel=1e-9)
    same = ot.gromov.gromov_wasserstein2(cosine_cost(X[ix]), cosine_cost(Y[ix]), ot.unif(30), ot.unif(30))
    assert gromov_wasserstein(X, Y, max_points=30, seed=3, subsample="aligned") == pytest.approx(float(same), rel=1e-9)
    with pytest.raises(ValueError, match="row-aligned"):
        gromov_wasserstein(X, Y[:50], max_points=30, subsample="aligned")


def test_spectrum_length_and_padding():
    rng = np.random.default_rng(13)
    A, B = rng.standard_normal((30, 6)), rng.standard_normal((60, 6))
    sa, sb = laplacian_spectrum(A, k=5), laplacian_spectrum(B, k=5)
    assert sa.shape == (29,) and sb.shape == (50,)  # min(n_eigs, N - 1), as ARPACK allows
    want = np.linalg.norm(np.concatenate([sa, np.zeros(21)]) - sb)
    assert spectral_gap_divergence(A, B, k=5) == pytest.approx(want, rel=1e-12)
