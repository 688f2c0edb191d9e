"""Second-fundamental-form curvature on surfaces of known curvature."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.analysis.geometry.curvature import local_curvature, second_fundamental_form, tangent_dimension


def _frame(D: int, d: int, rng: np.random.Generator) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.standard_normal((D, d)))
    return Q.T  # (d, D) orthonormal rows


def _sphere(n: int, dim: int, R: float, D: int, rng: np.random.Generator) -> np.ndarray:
    S = rng.standard_normal((n, dim + 1))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    return R * S @ _frame(D, dim + 1, rng) + rng.standard_normal(D)


@pytest.mark.parametrize("R", [0.5, 2.0])
def test_two_sphere_of_radius_R(R):
    rng = np.random.default_rng(int(R * 10))
    X = _sphere(2500, 2, R, 20, rng)
    c = local_curvature(X, n_points=150, k=50, seed=0)
    assert np.all(c.tangent_dim == 2)
    assert np.median(c.mean_curvature) == pytest.approx(1 / R, rel=0.08)
    assert np.median(c.gaussian_curvature) == pytest.approx(1 / R**2, rel=0.15)
    assert np.mean(c.mean_curvature > 0) > 0.95  # normal oriented towards the cloud's mean: inwards
    assert not c.underdetermined.any()


def test_three_sphere():
    rng = np.random.default_rng(7)
    X = _sphere(3000, 3, 1.0, 12, rng)
    c = local_curvature(X, n_points=120, k=50)
    assert np.all(c.tangent_dim == 3)
    assert np.median(c.mean_curvature) == pytest.approx(1.0, rel=0.15)


def test_plane_has_zero_curvature():
    rng = np.random.default_rng(8)
    X = rng.uniform(size=(1200, 2)) @ _frame(25, 2, rng)
    c = local_curvature(X, n_points=100, k=50)
    assert np.all(c.tangent_dim == 2)
    assert np.max(np.abs(c.mean_curvature)) < 1e-8
    assert np.max(np.abs(c.gaussian_curvature)) < 1e-12


def test_cylinder_mean_half_gaussian_zero():
    rng = np.random.default_rng(9)
    th, z = rng.uniform(0, 2 * np.pi, 3000), rng.uniform(-6, 6, 3000)
    X = np.stack([np.cos(th), np.sin(th), z], axis=1) @ _frame(10, 3, rng)
    c = local_curvature(X, n_points=100, k=50)
    assert np.median(c.mean_curvature) == pytest.approx(0.5, rel=0.1)
    assert abs(np.median(c.gaussian_curvature)) < 0.05


def test_second_fundamental_form_exact_quadratic():
    rng = np.random.default_rng(10)
    t = rng.standard_normal((60, 3))
    H = np.array([[1.0, 0.3, 0.0], [0.3, -2.0, 0.5], [0.0, 0.5, 0.7]])
    h = 0.2 + t @ np.array([0.1, -0.4, 0.3]) + 0.5 * np.einsum("ni,ij,nj->n", t, H, t)
    Hfit, under = second_fundamental_form(t, h)
    np.testing.assert_allclose(Hfit, H, atol=1e-10)
    assert not under
    _, under = second_fundamental_form(rng.standard_normal((10, 5)), rng.standard_normal(10))
    assert under


def test_tangent_dimension_rule():
    assert tangent_dimension(np.sqrt([96.0, 2.0, 1.0, 1.0])) == 2  # 96% after 1, floor of 2 dims
    assert tangent_dimension(np.sqrt([50.0, 30.0, 10.0, 6.0, 4.0])) == 4  # 96% after 4 components
    assert tangent_dimension(np.sqrt([50.0, 30.0, 15.0, 5.0])) == 3  # exactly 95% counts
    assert tangent_dimension(np.sqrt([1.0, 1.0, 1.0, 1.0]), min_dim=2) == 4


def test_subsample_is_seeded_and_high_dim_flagged():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((600, 20))
    a = local_curvature(X, n_points=40, k=50, seed=3)
    b = local_curvature(X, n_points=40, k=50, seed=3)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_allclose(a.mean_curvature, b.mean_curvature)
    assert a.points.size == 40 and a.underdetermined.all()


def test_reference_convention_halves_unsigned_and_zeroes_full_rank_neighbourhoods():
    """The published estimator: t^T A t fit (half the second fundamental form), unoriented normal,
    Gaussian-type = product of the two largest |eigenvalues|, 0 where no normal direction is left."""
    rng = np.random.default_rng(11)
    X = _sphere(2500, 2, 2.0, 20, rng)
    ref = local_curvature(X, n_points=150, k=50, seed=0, convention="reference")
    assert np.median(np.abs(ref.mean_curvature)) == pytest.approx(0.5 / 2.0, rel=0.1)
    assert np.median(ref.gaussian_curvature) == pytest.approx(0.25 / 2.0**2, rel=0.2)
    assert np.all(ref.gaussian_curvature >= 0) and not ref.underdetermined.any()
    # Isotropic noise in 80 dimensions: 5 neighbours need all their directions for 95% of the variance.
    noise = rng.standard_normal((400, 80))
    ref = local_curvature(noise, n_points=40, k=5, convention="reference")
    flat = ref.underdetermined
    assert flat.mean() > 0.9 and np.all(ref.tangent_dim[flat] == 5)
    assert not ref.mean_curvature[flat].any() and not ref.gaussian_curvature[flat].any()
    with pytest.raises(ValueError, match="convention"):
        local_curvature(noise, n_points=5, convention="paper")
