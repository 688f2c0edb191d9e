"""Pair metrics and the CCA-baseline EER on synthetic pairs with a known shared structure."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.analysis.crossmodal.pair import cca_baseline_eer, pair_metrics
from facevoice.analysis.geometry.encoder import levina_bickel
from facevoice.data.splits import permutation_split as split_identities


def _pair(n_ids=80, per_id=6, shared=8, noise=0.4, seed=0, aligned=True, d_face=48, d_voice=24, warp=np.tanh):
    """Face and voice samples generated from one identity latent (aligned) or independent latents."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_ids, shared))
    Zv = Z if aligned else rng.standard_normal((n_ids, shared))
    rows = np.repeat(np.arange(n_ids), per_id)
    labels = np.array([f"id{i:03d}" for i in rows])
    F = (Z @ rng.standard_normal((shared, d_face)))[rows] + noise * rng.standard_normal((rows.size, d_face))
    V = warp(Zv @ rng.standard_normal((shared, d_voice)))[rows] + noise * rng.standard_normal((rows.size, d_voice))
    return F, labels, V, labels.copy()


def test_split_identities_seeded_disjoint():
    ids = np.array([f"i{k}" for k in range(50)])
    tr, te = split_identities(ids, 0.2, seed=3)
    assert te.size == 10 and tr.size == 40 and not np.intersect1d(tr, te).size
    # The published study's split: RandomState(seed).permutation of the sorted identities, first 80% train.
    assert np.array_equal(te, np.sort(np.sort(ids)[np.random.RandomState(3).permutation(50)][40:]))
    assert split_identities(np.arange(1249), 0.2, seed=42)[1].size == 250  # 999 / 250 as published
    assert np.array_equal(te, split_identities(ids, 0.2, seed=3)[1])
    assert not np.array_equal(te, split_identities(ids, 0.2, seed=4)[1])


def test_cca_eer_separates_aligned_from_unrelated_pairs():
    F, lf, V, lv = _pair(seed=1)
    ids = np.unique(lf)
    train, test = ids[:60], ids[60:]
    good = cca_baseline_eer(F, lf, V, lv, train, test, protocol="samples")
    assert good["eer"] < 0.3
    assert good["n_train_identities"] == 60 and good["n_test_identities"] == 20
    assert good["n_trials"] == 2 * 20 * 6  # one positive and one negative per voice probe
    F2, lf2, V2, lv2 = _pair(seed=1, aligned=False)
    bad = cca_baseline_eer(F2, lf2, V2, lv2, train, test, protocol="samples")
    assert bad["eer"] > 0.4
    again = cca_baseline_eer(F, lf, V, lv, train, test, protocol="samples")
    assert again == good  # seeded


def _brute_reference_eer(scores, labels):
    """(FPR + FNR) / 2 where |FPR - FNR| is smallest over every threshold (each distinct score, and +inf)."""
    best = None
    for t in np.concatenate([np.unique(scores), [np.inf]]):
        fpr = np.mean(scores[~labels] >= t)
        fnr = np.mean(scores[labels] < t)
        if best is None or abs(fpr - fnr) < best[0]:
            best = (abs(fpr - fnr), (fpr + fnr) / 2)
    return best[1]


def test_cca_eer_centroid_protocol():
    """One centroid per identity, every test voice centroid against every test face centroid."""
    F, lf, V, lv = _pair(n_ids=160, per_id=3, seed=4)
    ids = np.unique(lf)
    train, test = split_identities(ids, 0.25, seed=0)
    good = cca_baseline_eer(F, lf, V, lv, train, test, n_pca=12, n_components=8)
    assert good["n_trials"] == 40 * 40 and good["n_test_identities"] == 40 and good["n_train_identities"] == 120
    assert good["eer"] < 0.15
    F2, lf2, V2, lv2 = _pair(n_ids=160, per_id=3, seed=4, aligned=False)
    assert cca_baseline_eer(F2, lf2, V2, lv2, train, test, n_pca=12, n_components=8)["eer"] > 0.35
    ref = cca_baseline_eer(F, lf, V, lv, train, test, estimator="reference", n_pca=12, n_components=8)
    assert abs(ref["eer"] - good["eer"]) <= 1 / 40  # both near the FPR = FNR crossing (40 positives)
    # The reference estimator against brute force on the same scores.
    from facevoice.analysis.crossmodal.pair import _eer

    rng = np.random.default_rng(0)
    s, y = rng.standard_normal(300), rng.random(300) < 0.2
    s[y] += 1.0
    assert _eer(s, y, "reference")[0] == pytest.approx(_brute_reference_eer(s, y), abs=1e-12)
    with pytest.raises(ValueError, match="protocol"):
        cca_baseline_eer(F, lf, V, lv, train, test, protocol="pairs")


def test_cca_eer_zero_for_linearly_related_modalities():
    """Noise-free linear maps of one latent: CCA recovers it, so every positive trial (same identity)
    scores 1 and every negative less; an EER of exactly 0 also shows no trial got the wrong label."""
    F, lf, V, lv = _pair(n_ids=30, per_id=4, seed=2, noise=0.0, d_face=8, d_voice=8, warp=lambda a: a)
    ids = np.unique(lf)
    res = cca_baseline_eer(F, lf, V, lv, ids[:20], ids[20:], protocol="samples", trials_per_probe=3, n_pca=8,
                           n_components=8)  # fmt: skip
    assert res["eer"] == 0.0
    assert res["n_trials"] == 2 * 3 * 10 * 4
    assert cca_baseline_eer(F, lf, V, lv, ids[:20], ids[20:], n_pca=8, n_components=8)["eer"] == 0.0
    with pytest.raises(ValueError, match="overlap"):
        cca_baseline_eer(F, lf, V, lv, ids[:20], ids[19:])
    with pytest.raises(ValueError, match="test identities"):
        cca_baseline_eer(F, lf, V, lv, ids[:20], ids[29:])


def test_pair_metrics_orders_aligned_above_unrelated():
    good = pair_metrics(*_pair(seed=3))
    bad = pair_metrics(*_pair(seed=3, aligned=False))
    keys = {"n_identities", "cka_linear", "cka_rbf", "gw", "spectral_gap", "id_face", "id_voice", "id_mismatch",
            "id_mismatch_centroids", "eer_cca", "n_trials"}  # fmt: skip
    assert set(good) == keys
    assert good["n_identities"] == 80
    # ID mismatch is taken between the per-encoder estimates on all samples (the published definition).
    F, lf, V, lv = _pair(seed=3)
    assert good["id_face"] == pytest.approx(levina_bickel(F).estimate)
    assert good["id_mismatch"] == pytest.approx(abs(good["id_face"] - good["id_voice"]))
    given = pair_metrics(F, lf, V, lv, id_face=19.5, id_voice=39.3, with_eer=False)
    assert given["id_mismatch"] == pytest.approx(19.8) and given["cka_linear"] == good["cka_linear"]
    assert good["cka_linear"] > bad["cka_linear"] + 0.3
    assert good["cka_rbf"] > bad["cka_rbf"]
    # GW compares the two shapes without the identity alignment, so it need not separate these two.
    assert good["gw"] >= 0 and bad["gw"] >= 0
    assert good["eer_cca"] < bad["eer_cca"]
    no_eer = pair_metrics(*_pair(seed=3), with_eer=False)
    assert "eer_cca" not in no_eer and no_eer["cka_linear"] == good["cka_linear"]
