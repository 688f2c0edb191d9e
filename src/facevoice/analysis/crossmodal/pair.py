"""Pair-level study quantities: identity split, CCA-baseline EER and every metric of one encoder pair.

The CCA-baseline EER is the cross-modal verification error that the correlation study tries to
predict from the training-free geometry metrics of :mod:`facevoice.analysis.crossmodal.metrics`.

Protocol (``protocol="centroids"``, the published study's, the default): L2-normalised identity
centroids; PCA 50 + CCA 50 fitted on the training identities' centroids (one row per identity);
every test voice centroid against every test face centroid (``M`` positive and ``M (M - 1)``
negative trials), cosine scores. ``protocol="samples"`` fits on the training items and draws item
trials instead. The EER is the exact ROC EER (METHODS.md section 4); ``estimator="reference"`` takes
the published code's ``(FPR + FNR) / 2`` at ``argmin |FPR - FNR|`` on scikit-learn's ROC.
"""

from __future__ import annotations

import numpy as np

from facevoice.analysis.crossmodal.metrics import (
    aligned_centroids,
    gromov_wasserstein,
    id_mismatch,
    identity_centroids,
    linear_cka,
    rbf_cka,
    spectral_gap_divergence,
)
from facevoice.analysis.geometry.encoder import levina_bickel
from facevoice.backends.cca import CCABaseline
from facevoice.data.splits import permutation_split
from facevoice.eval.metrics import eer


def _rows_by_identity(labels: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``labels`` in ``ids``, grouped: ``(rows sorted by identity, start (M,), count (M,))``."""
    rows = np.flatnonzero(np.isin(labels, ids))
    rows = rows[np.argsort(labels[rows], kind="stable")]
    _, start, count = np.unique(labels[rows], return_index=True, return_counts=True)
    return rows, start, count


def _eer(scores: np.ndarray, labels: np.ndarray, estimator: str) -> tuple[float, float]:
    """``(eer, threshold)``: exact ROC EER, or the published code's ``(FPR + FNR) / 2`` at ``argmin |FPR - FNR|``."""
    if estimator == "exact":
        res = eer(scores, labels)
        return float(res.eer), float(res.threshold)
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(labels.astype(int), scores)
    i = int(np.nanargmin(np.abs(fpr - (1.0 - tpr))))
    return float((fpr[i] + 1.0 - tpr[i]) / 2.0), float(thr[i])


def _sample_trials(face_labels, voice_labels, test, trials_per_probe, rng):
    """Item trials: every test voice item against ``trials_per_probe`` same- and other-identity face items."""
    f_rows, f_start, f_count = _rows_by_identity(face_labels, test)
    v_rows = np.flatnonzero(np.isin(voice_labels, test))
    probe = np.repeat(v_rows, trials_per_probe)
    own = np.searchsorted(test, voice_labels[probe])
    other = (own + rng.integers(1, test.size, size=probe.size)) % test.size
    ident = np.concatenate([own, other])
    cand = f_rows[f_start[ident] + (rng.random(ident.size) * f_count[ident]).astype(np.int64)]
    labels = np.concatenate([np.ones(own.size, bool), np.zeros(other.size, bool)])
    return np.concatenate([probe, probe]), cand, labels


def cca_baseline_eer(
    face_X: np.ndarray,
    face_labels: np.ndarray,
    voice_X: np.ndarray,
    voice_labels: np.ndarray,
    train_identities: np.ndarray,
    test_identities: np.ndarray,
    protocol: str = "centroids",
    estimator: str = "exact",
    trials_per_probe: int = 1,
    seed: int = 0,
    normalize_samples: bool = False,
    **cca_kwargs,
) -> dict:
    """Cross-modal verification EER of the CCA baseline for one encoder pair (module docstring).

    ``facevoice.backends.cca.CCABaseline`` is fitted on ``train_identities`` and tested on the
    ``test_identities`` present in both modalities. ``protocol="centroids"``: one centroid per identity
    (:func:`facevoice.analysis.crossmodal.metrics.identity_centroids`), all test centroid pairs.
    ``protocol="samples"``: fitted on the training items; every test voice item is a probe with
    ``trials_per_probe`` positive trials (a random face item of the same identity) and as many negative
    trials (a random face item of another random test identity). Seeded.

    Args:
        face_X: ``(N_f, D_f)``; face_labels: ``(N_f,)``; voice_X: ``(N_v, D_v)``; voice_labels: ``(N_v,)``.
        estimator: ``"exact"`` (ROC EER) or ``"reference"`` (see :func:`_eer`).

    Returns:
        ``{"eer", "threshold", "n_trials", "n_train_identities", "n_test_identities"}`` (EER as a fraction).
    """

    if protocol not in ("centroids", "samples"):
        raise ValueError(f"protocol must be 'centroids' or 'samples', got {protocol!r}")
    if estimator not in ("exact", "reference"):
        raise ValueError(f"estimator must be 'exact' or 'reference', got {estimator!r}")
    face_X, voice_X = np.asarray(face_X), np.asarray(voice_X)
    face_labels, voice_labels = np.asarray(face_labels), np.asarray(voice_labels)
    shared = np.intersect1d(train_identities, test_identities)
    if shared.size:
        raise ValueError(f"train and test identities overlap ({shared.size}, e.g. {shared[:3].tolist()})")
    both = np.intersect1d(face_labels, voice_labels)
    train, test = np.intersect1d(both, train_identities), np.intersect1d(both, test_identities)
    if test.size < 2:
        raise ValueError(f"CCA-baseline EER needs >= 2 test identities with both modalities, found {test.size}")
    if protocol == "centroids":
        fid, Cf = identity_centroids(face_X, face_labels, normalize_samples)
        vid, Cv = identity_centroids(voice_X, voice_labels, normalize_samples)
        fr, vr = np.searchsorted(fid, train), np.searchsorted(vid, train)
        model = CCABaseline(seed=seed, **cca_kwargs).fit(Cf[fr], train, Cv[vr], train)
        F = model.transform(Cf[np.searchsorted(fid, test)], "face")
        V = model.transform(Cv[np.searchsorted(vid, test)], "voice")
        scores, labels = (V @ F.T).ravel(), np.eye(test.size, dtype=bool).ravel()
    else:
        f_tr, v_tr = np.isin(face_labels, train), np.isin(voice_labels, train)
        model = CCABaseline(seed=seed, **cca_kwargs).fit(face_X[f_tr], face_labels[f_tr], voice_X[v_tr],
                                                         voice_labels[v_tr])  # fmt: skip
        probe, cand, labels = _sample_trials(face_labels, voice_labels, test, trials_per_probe,
                                             np.random.default_rng(seed))  # fmt: skip
        scores = np.sum(model.transform(voice_X[probe], "voice") * model.transform(face_X[cand], "face"), axis=1)
    err, thr = _eer(scores, labels, estimator)
    return {
        "eer": err,
        "threshold": thr,
        "n_trials": int(labels.size),
        "n_train_identities": int(train.size),
        "n_test_identities": int(test.size),
    }


def pair_metrics(
    face_X: np.ndarray,
    face_labels: np.ndarray,
    voice_X: np.ndarray,
    voice_labels: np.ndarray,
    *,
    train_identities: np.ndarray | None = None,
    test_identities: np.ndarray | None = None,
    test_fraction: float = 0.2,
    with_eer: bool = True,
    id_face: float | None = None,
    id_voice: float | None = None,
    k: int = 20,
    n_eigs: int = 50,
    gw_points: int = 500,
    gw_subsample: str = "independent",
    rbf_sigma: float = 1.0,
    normalize_samples: bool = False,
    eer_protocol: str = "centroids",
    eer_estimator: str = "exact",
    seed: int = 0,
) -> dict:
    """Every cross-modal geometry metric of one pair, plus the CCA-baseline EER.

    Geometry is computed on the centroids of all identities present in both modalities. The ID
    mismatch is ``|id_face - id_voice|`` of the per-encoder Levina-Bickel estimates on all samples
    (pass them when known, e.g. ``id_mle`` of :func:`facevoice.analysis.geometry.encoder.encoder_geometry`);
    ``id_mismatch_centroids`` is the same on the centroids. Without explicit
    ``train_identities``/``test_identities`` the EER uses :func:`split_identities` with ``test_fraction``.

    Args:
        face_X: ``(N_f, D_f)``; face_labels: ``(N_f,)``; voice_X: ``(N_v, D_v)``; voice_labels: ``(N_v,)``.
        gw_subsample: see :func:`facevoice.analysis.crossmodal.metrics.gromov_wasserstein`.
        eer_protocol, eer_estimator: see :func:`cca_baseline_eer`.

    Returns:
        Flat dict: ``n_identities, cka_linear, cka_rbf, gw, spectral_gap, id_face, id_voice,
        id_mismatch, id_mismatch_centroids`` and, with ``with_eer``, ``eer_cca`` (fraction) with ``n_trials``.
    """
    ids, Cf, Cv = aligned_centroids(face_X, face_labels, voice_X, voice_labels, normalize_samples)
    if id_face is None:
        id_face = levina_bickel(face_X, k=min(k, len(face_X) - 1)).estimate
    if id_voice is None:
        id_voice = levina_bickel(voice_X, k=min(k, len(voice_X) - 1)).estimate
    out = {
        "n_identities": int(ids.size),
        "cka_linear": linear_cka(Cf, Cv),
        "cka_rbf": rbf_cka(Cf, Cv, sigma_frac=rbf_sigma),
        "gw": gromov_wasserstein(Cf, Cv, max_points=gw_points, seed=seed, subsample=gw_subsample),
        "spectral_gap": spectral_gap_divergence(Cf, Cv, k=k, n_eigs=n_eigs),
        "id_face": float(id_face),
        "id_voice": float(id_voice),
        "id_mismatch": abs(float(id_face) - float(id_voice)),
        "id_mismatch_centroids": id_mismatch(Cf, Cv, k=min(k, ids.size - 1))[0],
    }
    if with_eer:
        if train_identities is None or test_identities is None:
            train_identities, test_identities = permutation_split(ids, test_fraction, seed)
        res = cca_baseline_eer(face_X, face_labels, voice_X, voice_labels, train_identities, test_identities,
                               protocol=eer_protocol, estimator=eer_estimator, seed=seed,
                               normalize_samples=normalize_samples)  # fmt: skip
        out["eer_cca"] = res["eer"]
        out["n_trials"] = res["n_trials"]
    return out
