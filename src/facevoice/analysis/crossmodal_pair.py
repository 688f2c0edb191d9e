"""Pair-level study quantities: identity split, CCA-baseline EER and every metric of one encoder pair.

The CCA-baseline EER is the cross-modal verification error that the correlation study tries to
predict from the training-free geometry metrics of :mod:`facevoice.analysis.crossmodal`.
"""

from __future__ import annotations

import numpy as np

from facevoice.analysis.crossmodal import (
    aligned_centroids,
    gromov_wasserstein,
    id_mismatch,
    linear_cka,
    rbf_cka,
    spectral_gap_divergence,
)


def split_identities(ids: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded identity split ``(train_ids, test_ids)`` (the study used 999 / 250 of 1,249, about 80/20)."""
    ids = np.unique(np.asarray(ids))
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(ids)
    n_test = min(max(int(round(test_fraction * ids.size)), 2), ids.size - 2)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _rows_by_identity(labels: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``labels`` in ``ids``, grouped: ``(rows sorted by identity, start (M,), count (M,))``."""
    rows = np.flatnonzero(np.isin(labels, ids))
    rows = rows[np.argsort(labels[rows], kind="stable")]
    _, start, count = np.unique(labels[rows], return_index=True, return_counts=True)
    return rows, start, count


def cca_baseline_eer(
    face_X: np.ndarray,
    face_labels: np.ndarray,
    voice_X: np.ndarray,
    voice_labels: np.ndarray,
    train_identities: np.ndarray,
    test_identities: np.ndarray,
    trials_per_probe: int = 1,
    seed: int = 0,
    **cca_kwargs,
) -> dict:
    """Cross-modal verification EER of the CCA baseline for one encoder pair.

    ``facevoice.backends.cca.CCABaseline`` is fitted on the items of ``train_identities``; on
    ``test_identities`` present in both modalities every voice item is a probe with
    ``trials_per_probe`` positive trials (a random face item of the same identity) and as many negative
    trials (a random face item of another random test identity), scored by cosine. Seeded.

    Args:
        face_X: ``(N_f, D_f)``; face_labels: ``(N_f,)``; voice_X: ``(N_v, D_v)``; voice_labels: ``(N_v,)``.

    Returns:
        ``{"eer", "threshold", "n_trials", "n_train_identities", "n_test_identities"}`` (EER as a fraction).
    """
    from facevoice.backends.cca import CCABaseline
    from facevoice.eval.metrics import eer

    face_X, voice_X = np.asarray(face_X), np.asarray(voice_X)
    face_labels, voice_labels = np.asarray(face_labels), np.asarray(voice_labels)
    shared = np.intersect1d(train_identities, test_identities)
    if shared.size:
        raise ValueError(f"train and test identities overlap ({shared.size}, e.g. {shared[:3].tolist()})")
    f_tr, v_tr = np.isin(face_labels, train_identities), np.isin(voice_labels, train_identities)
    model = CCABaseline(seed=seed, **cca_kwargs).fit(face_X[f_tr], face_labels[f_tr], voice_X[v_tr], voice_labels[v_tr])
    test = np.intersect1d(np.intersect1d(face_labels, voice_labels), test_identities)
    if test.size < 2:
        raise ValueError(f"CCA-baseline EER needs >= 2 test identities with both modalities, found {test.size}")
    f_rows, f_start, f_count = _rows_by_identity(face_labels, test)
    v_rows = np.flatnonzero(np.isin(voice_labels, test))
    rng = np.random.default_rng(seed)
    probe = np.repeat(v_rows, trials_per_probe)
    own = np.searchsorted(test, voice_labels[probe])
    other = (own + rng.integers(1, test.size, size=probe.size)) % test.size
    ident = np.concatenate([own, other])
    cand = f_rows[f_start[ident] + (rng.random(ident.size) * f_count[ident]).astype(np.int64)]
    probe = np.concatenate([probe, probe])
    labels = np.concatenate([np.ones(own.size, bool), np.zeros(other.size, bool)])
    V = model.transform(voice_X[probe], "voice")
    F = model.transform(face_X[cand], "face")
    res = eer(np.sum(V * F, axis=1), labels)
    n_train = np.intersect1d(face_labels[f_tr], voice_labels[v_tr]).size
    return {
        "eer": float(res.eer),
        "threshold": float(res.threshold),
        "n_trials": int(labels.size),
        "n_train_identities": int(n_train),
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
    k: int = 20,
    n_eigs: int = 50,
    gw_points: int = 500,
    rbf_sigma: float = 1.0,
    seed: int = 0,
) -> dict:
    """Every cross-modal geometry metric of one pair, plus the CCA-baseline EER.

    Geometry is computed on the centroids of all identities present in both modalities. Without
    explicit ``train_identities``/``test_identities`` the EER uses a seeded identity split with
    ``test_fraction`` of them held out.

    Args:
        face_X: ``(N_f, D_f)``; face_labels: ``(N_f,)``; voice_X: ``(N_v, D_v)``; voice_labels: ``(N_v,)``.

    Returns:
        Flat dict: ``n_identities, cka_linear, cka_rbf, gw, spectral_gap, id_face, id_voice,
        id_mismatch`` and, with ``with_eer``, ``eer_cca`` (fraction) with ``n_trials``.
    """
    ids, Cf, Cv = aligned_centroids(face_X, face_labels, voice_X, voice_labels)
    mismatch, id_f, id_v = id_mismatch(Cf, Cv, k=k)
    out = {
        "n_identities": int(ids.size),
        "cka_linear": linear_cka(Cf, Cv),
        "cka_rbf": rbf_cka(Cf, Cv, sigma_frac=rbf_sigma),
        "gw": gromov_wasserstein(Cf, Cv, max_points=gw_points, seed=seed),
        "spectral_gap": spectral_gap_divergence(Cf, Cv, k=k, n_eigs=n_eigs),
        "id_face": id_f,
        "id_voice": id_v,
        "id_mismatch": mismatch,
    }
    if with_eer:
        if train_identities is None or test_identities is None:
            train_identities, test_identities = split_identities(ids, test_fraction, seed)
        res = cca_baseline_eer(face_X, face_labels, voice_X, voice_labels, train_identities, test_identities, seed=seed)
        out["eer_cca"] = res["eer"]
        out["n_trials"] = res["n_trials"]
    return out
