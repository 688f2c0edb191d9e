import numpy as np
import pytest

from facevoice.backends.cca import CCABaseline


def _paired_world(n_ids=60, per=4, shared=3, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n_ids, shared))
    A, B = rng.normal(size=(shared, 40)), rng.normal(size=(shared, 30))
    ids = np.repeat(np.arange(n_ids).astype(str), per)
    face = s[np.repeat(np.arange(n_ids), per)] @ A + 0.5 * rng.normal(size=(n_ids * per, 40))
    voice = s[np.repeat(np.arange(n_ids), per)] @ B + 0.5 * rng.normal(size=(n_ids * per, 30))
    return face, voice, ids


def _reference_cca_corr(F, V, k):
    """Slow reference: canonical correlations as singular values of Cff^-1/2 Cfv Cvv^-1/2 (scipy sqrtm)."""
    from scipy.linalg import sqrtm

    F, V = F - F.mean(0), V - V.mean(0)
    n = len(F)
    Cff, Cvv, Cfv = F.T @ F / (n - 1), V.T @ V / (n - 1), F.T @ V / (n - 1)
    M = np.linalg.inv(np.real(sqrtm(Cff))) @ Cfv @ np.linalg.inv(np.real(sqrtm(Cvv)))
    return np.linalg.svd(M, compute_uv=False)[:k]


def test_canonical_correlations_match_reference():
    face, voice, ids = _paired_world()
    cca = CCABaseline(n_pca=10, n_components=5, reg=0.0, pairing="cyclic").fit(face, ids, voice, ids)
    F = cca.pca_["face"].transform(face)
    V = cca.pca_["voice"].transform(voice)
    Fp, Vp = cca._pairs(F, ids, V, ids)
    np.testing.assert_allclose(cca.correlations_, _reference_cca_corr(Fp, Vp, 5), atol=1e-6)
    # along each canonical direction the projected training pairs correlate as reported
    Zf = (Fp - Fp.mean(0)) @ cca.W_["face"]
    Zv = (Vp - Vp.mean(0)) @ cca.W_["voice"]
    corr = [np.corrcoef(Zf[:, j], Zv[:, j])[0, 1] for j in range(5)]
    np.testing.assert_allclose(corr, cca.correlations_, atol=1e-6)


def test_separates_identities_on_unseen_people():
    face, voice, ids = _paired_world(n_ids=120)
    train = np.isin(ids, np.arange(80).astype(str))
    cca = CCABaseline(n_pca=20, n_components=3).fit(face[train], ids[train], voice[train], ids[train])
    f, v = cca.transform(face[~train], "face"), cca.transform(voice[~train], "voice")
    assert np.allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5)
    same = ids[~train][:, None] == ids[~train][None, :]
    S = f @ v.T
    assert S[same].mean() > S[~same].mean() + 0.3


def test_errors():
    face, voice, ids = _paired_world(n_ids=5)
    with pytest.raises(RuntimeError, match="before fit"):
        CCABaseline().transform(face, "face")
    with pytest.raises(ValueError, match="at least 2 identities"):
        CCABaseline(n_pca=3).fit(face, ids, voice, np.array(["zz"] * len(ids)))
    with pytest.raises(ValueError, match="pairing"):
        CCABaseline(pairing="best")
    cca = CCABaseline(n_pca=3, n_components=2, pairing="centroid").fit(face, ids, voice, ids)
    with pytest.raises(ValueError, match="modality"):
        cca.transform(face, "text")


def test_auto_rule_small_and_large_training_sets():
    from facevoice.backends.cca import auto_components, auto_reg

    # the spec's PCA 50 -> CCA 50 for VoxCeleb1-sized training sets; few components and a ridge for MAV-Celeb
    assert auto_components(999, 50) == auto_components(901, 50) == 50 and auto_reg(999, 50) == 1e-3
    assert auto_components(50, 50) == 3 and auto_reg(50, 50) == pytest.approx(7.5)
    assert auto_components(10, 50) == 2 and auto_reg(200, 50) == 1e-3 > 0 < auto_reg(199, 50)
    face, voice, ids = _paired_world(n_ids=50)
    small = CCABaseline(n_pca=20).fit(face, ids, voice, ids)
    assert small.n_components_ == 3 and small.W_["face"].shape == (20, 3) and small.reg_ == pytest.approx(10 * 3 / 8)
    fixed = CCABaseline(n_pca=20, n_components=5).fit(face, ids, voice, ids)  # explicit k: the old ridge
    assert fixed.n_components_ == 5 and fixed.reg_ == 1e-3
    with pytest.raises(ValueError, match="'auto'"):
        CCABaseline(n_components="many")


def test_auto_rule_ignores_spurious_components():
    """50 training identities, 3 real shared directions in 40/30 dims: all 30 components overfit the training
    pairs (spurious canonical correlations near the real ones), the automatic rule keeps the real ones."""
    face, voice, ids = _paired_world(n_ids=90, per=4, shared=3)
    train = np.isin(ids, np.arange(50).astype(str))
    full = CCABaseline(n_pca=30, n_components=30, reg=1e-3).fit(face[train], ids[train], voice[train], ids[train])
    assert full.correlations_[10] > 0.3  # spurious, yet clearly non-zero on training data
    auto = CCABaseline(n_pca=30).fit(face[train], ids[train], voice[train], ids[train])
    same = ids[~train][:, None] == ids[~train][None, :]

    def gap(m):
        S = m.transform(face[~train], "face") @ m.transform(voice[~train], "voice").T
        return S[same].mean() - S[~same].mean()

    assert gap(auto) > gap(full) + 0.1


def _reference_centroid_cca_scores(face, face_ids, voice, voice_ids, n_pca, k, reg, probe_f, probe_v):
    """Scores of row-aligned probe pairs by a direct numpy computation of PCA -> centroid CCA -> cosine.

    PCA by an SVD of the centred items, centroids of each identity's PCA coordinates, canonical weights
    from scipy's matrix square root of the ridged covariances. Signs of PCA axes and canonical pairs
    differ from the library's at will; cosines of (face, voice) pairs do not depend on them.
    """
    from scipy.linalg import sqrtm

    def pca(X):
        mu = X.mean(0)
        _, _, Vt = np.linalg.svd(X - mu, full_matrices=False)
        return lambda Y: (Y - mu) @ Vt[:n_pca].T

    pf, pv = pca(face), pca(voice)
    common = sorted(set(face_ids) & set(voice_ids))
    F = np.stack([pf(face[face_ids == i]).mean(0) for i in common])
    V = np.stack([pv(voice[voice_ids == i]).mean(0) for i in common])
    mf, mv = F.mean(0), V.mean(0)  # the centring the transform must apply to new items too
    Fc, Vc = F - mf, V - mv
    n = len(common)
    Cff, Cvv, Cfv = Fc.T @ Fc / (n - 1), Vc.T @ Vc / (n - 1), Fc.T @ Vc / (n - 1)

    def inv_sqrt(C):
        C = C + reg * np.trace(C) / len(C) * np.eye(len(C))
        return np.linalg.inv(np.real(sqrtm(C)))

    Wf, Wv = inv_sqrt(Cff), inv_sqrt(Cvv)
    U, _, Vt = np.linalg.svd(Wf @ Cfv @ Wv)
    Af, Av = Wf @ U[:, :k], Wv @ Vt.T[:, :k]
    zf, zv = (pf(probe_f) - mf) @ Af, (pv(probe_v) - mv) @ Av
    return np.sum(zf * zv, 1) / (np.linalg.norm(zf, axis=1) * np.linalg.norm(zv, axis=1))


def test_scores_match_a_direct_computation_with_unequal_counts():
    """With 1 face and 5 voices per training identity (or the reverse), the mean of the paired rows is not the
    PCA mean, so new items must be centred on the paired rows' mean before projection: a transform that
    skips it scores differently from the direct computation."""
    rng = np.random.default_rng(7)
    n_ids, shared = 80, 3
    s = rng.normal(size=(n_ids, shared))
    A, B = rng.normal(size=(shared, 24)), rng.normal(size=(shared, 18))
    n_face = np.where(np.arange(n_ids) % 2 == 0, 1, 5)  # unequal counts in both directions
    n_voice = 6 - n_face
    fi, vi = np.repeat(np.arange(n_ids), n_face), np.repeat(np.arange(n_ids), n_voice)
    face = s[fi] @ A + 2.0 + 0.7 * rng.normal(size=(len(fi), 24))
    voice = s[vi] @ B - 1.0 + 0.7 * rng.normal(size=(len(vi), 18))
    face_ids, voice_ids = fi.astype(str), vi.astype(str)
    probe_f = rng.normal(size=(50, 24)) + 2.0
    probe_v = rng.normal(size=(50, 18)) - 1.0
    cca = CCABaseline(n_pca=8, n_components=3, reg=1e-3, pairing="centroid").fit(face, face_ids, voice, voice_ids)
    want = _reference_centroid_cca_scores(face, face_ids, voice, voice_ids, 8, 3, 1e-3, probe_f, probe_v)
    np.testing.assert_allclose(cca.score(probe_f, probe_v), want, atol=1e-5)
    # the paired rows' mean really is away from the PCA mean here (otherwise the check could not fail)
    assert np.linalg.norm(cca.mean_["face"]) > 0.05 and np.linalg.norm(cca.mean_["voice"]) > 0.05
