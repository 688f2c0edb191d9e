"""The cross-modal PLDA back-end against dense references and on planted two-covariance data."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.backends.plda import CrossModalPLDA, select_plda
from facevoice.backends.scores import GaussianLLR
from facevoice.eval import metrics
from reference.plda_reference import (
    cross_moments,
    joint_gaussian_llr,
    memory_llr,
    mixture_llr,
    two_cov_predictive,
)


def planted(n_ids=300, per_id=4, d_face=6, d_voice=5, rho=(0.8, 0.5, 0.3), seed=0, gap=0.0, world=None, noise=0.5):
    """Two-covariance data with known canonical correlations between shared identity factors.

    Identity factors y ~ N(0, I); face = y_f A + within noise, voice = y_v B + within noise, where the
    first len(rho) coordinates of y_f and y_v correlate with rho_j. ``gap`` adds a two-class shift
    (a 'gender') on the first shared coordinate of both modalities. The maps A, B come from
    ``world`` (default: ``seed``), the people from ``seed``.
    """
    w = np.random.default_rng(seed if world is None else world)
    A, B = w.normal(size=(d_face, d_face)), w.normal(size=(d_voice, d_voice))
    rng = np.random.default_rng(seed + 1000)
    k = len(rho)
    yf = rng.normal(size=(n_ids, d_face))
    yv = rng.normal(size=(n_ids, d_voice))
    yv[:, :k] = np.asarray(rho) * yf[:, :k] + np.sqrt(1 - np.asarray(rho) ** 2) * yv[:, :k]
    cls = rng.integers(0, 2, n_ids)
    yf[:, 0] += gap * (cls - 0.5)
    yv[:, 0] += gap * (cls - 0.5)
    ids = np.repeat([f"p{i:04d}" for i in range(n_ids)], per_id)
    rep = np.repeat(np.arange(n_ids), per_id)
    face = (yf[rep] + noise * rng.normal(size=(len(rep), d_face))) @ A
    voice = (yv[rep] + noise * rng.normal(size=(len(rep), d_voice))) @ B
    return face, ids, voice, ids.copy()


def test_full_rank_llr_equals_the_dense_joint_gaussian():
    F, fid, V, vid = planted(n_ids=60, per_id=3, d_face=4, d_voice=3)
    be = CrossModalPLDA(n_pca=4, n_cross=4, n_components=4, reg=0.0, seen_prior=0.0).fit(F, fid, V, vid)
    rng = np.random.default_rng(1)
    f, v = F[rng.choice(len(F), 40)], V[rng.choice(len(V), 40)]
    want = joint_gaussian_llr(f, v, *cross_moments(F, fid, V, vid))
    np.testing.assert_allclose(be.score_pairs(f, v), want, atol=1e-8)
    np.testing.assert_allclose(be.score_matrix(f, v), be.score_matrix(f, v))
    M = be.score_matrix(f[:7], v[:9])
    for i in range(7):
        np.testing.assert_allclose(M[i], be.score_pairs(np.repeat(f[i : i + 1], 9, 0), v[:9]), atol=1e-10)


def test_gaussian_llr_matches_bivariate_normal_terms():
    rng = np.random.default_rng(2)
    rho = np.array([0.9, 0.4])
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    g = GaussianLLR({"face": np.eye(2), "voice": np.eye(2)}, {"face": np.zeros(2), "voice": np.zeros(2)}, rho)
    S = np.block([[np.eye(2), np.diag(rho)], [np.diag(rho), np.eye(2)]])
    want = joint_gaussian_llr(a, b, np.zeros(2), np.zeros(2), np.eye(2), np.eye(2), np.diag(rho))
    np.testing.assert_allclose(g.pair_scores(g.vectors(a, "face"), g.vectors(b, "voice")), want, atol=1e-10)
    np.testing.assert_allclose(np.diag(g.matrix_scores(a, b)), want, atol=1e-10)
    assert S.shape == (4, 4)


def test_latent_mixture_llr_equals_the_dense_mixture():
    F, fid, V, vid = planted(n_ids=200, per_id=3, d_face=5, d_voice=4, rho=(0.7, 0.4), gap=4.0, seed=3)
    be = CrossModalPLDA(n_pca=5, n_cross=4, n_components=2, reg=0.0, seen_prior=0.0, n_mix=2).fit(F, fid, V, vid)
    mix = be.mixture_
    S = np.linalg.inv(mix.P)
    f, v = F[:25], V[10:35]
    a, b = be.canonical(f, "face"), be.canonical(v, "voice")
    want = mixture_llr(a, b, np.exp(mix.log_w), mix.marg_mu, S)
    np.testing.assert_allclose(be.score_pairs(f, v), want, atol=1e-8)
    np.testing.assert_allclose(np.diag(be.score_matrix(f, v)), want, atol=1e-8)


def test_identity_memory_equals_the_dense_mixture_over_training_identities():
    F, fid, V, vid = planted(n_ids=12, per_id=5, d_face=3, d_voice=3, rho=(0.8,), seed=4)
    prior = 0.3
    be = CrossModalPLDA(n_pca=3, n_cross=3, n_components=3, reg=0.0, seen_prior=prior).fit(F, fid, V, vid)
    rng = np.random.default_rng(5)
    f, v = F[rng.choice(len(F), 20)] + 0.1, V[rng.choice(len(V), 20)] - 0.1
    cross = joint_gaussian_llr(f, v, *cross_moments(F, fid, V, vid))
    want = memory_llr(f, v, two_cov_predictive(F, fid), two_cov_predictive(V, vid), cross, prior)
    np.testing.assert_allclose(be.score_pairs(f, v), want, atol=1e-6)
    np.testing.assert_allclose(np.diag(be.score_matrix(f, v)), want, atol=1e-6)


def test_planted_correlations_are_recovered_and_scores_are_calibrated():
    F, fid, V, vid = planted(n_ids=3000, per_id=2, seed=6, world=0)
    be = CrossModalPLDA(n_pca=6, n_cross=6, n_components=3, reg=0.0, seen_prior=0.0).fit(F, fid, V, vid)
    # item-level canonical correlation = rho x the between-identity share of variance (1 / 1.25 here)
    np.testing.assert_allclose(be.rho_, np.array([0.8, 0.5, 0.3]) / 1.25, atol=0.03)
    Ft, _, Vt, _ = planted(n_ids=2000, per_id=1, seed=7, world=0)  # new people of the same world
    tar = be.score_pairs(Ft, Vt)  # row i of both: one person
    non = be.score_pairs(Ft, np.roll(Vt, 1, axis=0))  # row i against the next person
    scores, labels = np.r_[tar, non], np.r_[np.ones(len(tar)), np.zeros(len(non))].astype(int)
    assert metrics.cllr(scores, labels) - metrics.min_cllr(scores, labels) < 0.02  # LLRs are calibrated
    assert metrics.actual_dcf(scores, labels, 0.1) - metrics.min_dcf(scores, labels, 0.1)[0] < 0.05


def test_selection_on_validation_finds_the_planted_rank_and_latent_classes():
    F, fid, V, vid = planted(n_ids=900, per_id=3, d_face=10, d_voice=8, rho=(0.9, 0.8, 0.7), gap=5.0, seed=8)
    n_train = 700 * 3
    train = {"face": (F[:n_train], fid[:n_train]), "voice": (V[:n_train], vid[:n_train])}
    val = {"face": (F[n_train:], fid[n_train:]), "voice": (V[n_train:], vid[n_train:])}
    grid = {"n_cross": (10,), "n_components": (1, 3, 6), "reg": (0.0,), "n_mix": (1, 2)}
    sel = select_plda(train, val, grid, criterion=lambda s, y: metrics.eer(s, y).eer, n_pca=10, seen_prior=0.0)
    assert sel.params["n_components"] == 3 and sel.params["n_mix"] == 2
    assert sel.table["selected"].sum() == 1 and len(sel.table) == 3 + 1
    best = sel.table[sel.table["selected"]].iloc[0]
    assert best["val_criterion"] == sel.table["val_criterion"].min()


def test_state_round_trip_scores_identically():
    F, fid, V, vid = planted(n_ids=80, per_id=3, gap=3.0, seed=9)
    be = CrossModalPLDA(n_pca=5, n_cross=4, n_components=3, seen_prior=1e-3, n_mix=2).fit(F, fid, V, vid)
    again = CrossModalPLDA.from_state(be.get_state())
    np.testing.assert_array_equal(be.score_matrix(F[:30], V[:20]), again.score_matrix(F[:30], V[:20]))


def test_memory_recognises_training_identities_without_hurting_new_ones():
    F, fid, V, vid = planted(n_ids=400, per_id=5, d_face=8, d_voice=8, rho=(0.6, 0.4), seed=10, noise=0.25)
    train = np.isin(fid, np.unique(fid)[:300])
    seen_rows = np.flatnonzero(train)[4::5]  # one item per training identity held out
    fit_rows = np.setdiff1d(np.flatnonzero(train), seen_rows)
    new_rows = np.flatnonzero(~train)
    plain = CrossModalPLDA(8, 8, 2, seen_prior=0.0).fit(F[fit_rows], fid[fit_rows], V[fit_rows], vid[fit_rows])
    mem = CrossModalPLDA(8, 8, 2, seen_prior=1e-3).fit(F[fit_rows], fid[fit_rows], V[fit_rows], vid[fit_rows])

    def eer(model, rows):
        S = model.score_matrix(F[rows], V[rows])
        return metrics.eer(S.ravel(), (fid[rows][:, None] == vid[rows][None, :]).ravel().astype(int)).eer

    assert eer(mem, seen_rows) < 0.5 * eer(plain, seen_rows)  # training identities are remembered
    assert eer(mem, new_rows) < eer(plain, new_rows) + 0.01  # new people score as before


def test_bad_inputs_are_named():
    F, fid, V, vid = planted(n_ids=20, per_id=2)
    with pytest.raises(ValueError, match="identities with items of both"):
        CrossModalPLDA(4, 4, 2).fit(F[:4], fid[:4], V[:4], vid[:4])
    be = CrossModalPLDA(4, 4, 2).fit(F, fid, V, vid)
    with pytest.raises(ValueError, match="face inputs must have shape"):
        be.score_pairs(F[:, :3], V)
    bad = F.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CrossModalPLDA(4, 4, 2).fit(bad, fid, V, vid)
    with pytest.raises(RuntimeError, match="before fit"):
        CrossModalPLDA().score_pairs(F, V)
