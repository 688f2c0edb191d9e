"""The simulator's sampler against the generative model's stated covariances (docs/simceleb.md §2).

The oracle and its dense reference both read the factor variances the sampler reads, so a sampler
that drew, say, the shared factor with twice the variance would leave them in agreement and every
oracle test green. Here the latent codes the sampler produced are compared with moments derived
by hand from the config's ``*_std`` fields: after removing the demographic mean mu_a (and language
offsets), per coordinate

=========================================  ================================  ====================
moment (same identity)                     shared coordinates                specific coordinates
=========================================  ================================  ====================
face x voice item                          s                                 (none)
two items, different videos, one modality  s + e                             t
two items, same video                      s + e + c                         t + c
one item with itself                       s + e + c + eps                   t + c + eps
=========================================  ================================  ====================

(s, e, t, c, eps = shared_std², expression_std², specific_std², session_std², noise_std²).

Power: each moment is averaged over coordinates within an identity, then over identities; the
test fails when the mean is more than ``Z_FAIL`` standard errors from the stated value, and it
also asserts that a 10 % error in the stated value would sit at least ``Z_FAIL + 1.645`` standard
errors away, i.e. that such an error is detected with probability >= 95 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facevoice.simceleb.simulate import simulate

Z_FAIL = 4.0
RELATIVE_ERROR = 0.10
CONFIG = dict(n_identities=4000, n_train=2900, n_val=300, d_face=64, d_voice=64, map_hidden=64)


@pytest.fixture(scope="module")
def sim():
    return simulate("vox1", seed=3, **CONFIG)


def _centred(sim, modality: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Latents minus mu_a on the shared coordinates (and the language offset for voices)."""
    cfg, world = sim.config, sim.world
    rows = sim.bundle.rows(modality).reset_index(drop=True)
    z = (sim.latents.face if modality == "face" else sim.latents.voice).astype(np.float64).copy()
    combo = {c: i for i, c in enumerate(world.combos)}
    a = np.array([combo[t] for t in zip(rows["gender"], rows["nationality"], rows["age_band"], strict=True)])
    z[:, : cfg.k_shared] -= world.means[a]
    if modality == "voice":
        lang = rows["language"].map({name: i for i, name in enumerate(cfg.languages)}).to_numpy()
        z -= world.language_offsets[lang]
    return z, rows


def _pair_moments(z: np.ndarray, rows: pd.DataFrame, cols: slice) -> dict[str, np.ndarray]:
    """Per-identity means of x_j x_k over ordered item pairs (same / different video) and of x_j^2."""
    x = z[:, cols]
    ident = rows["identity"].to_numpy()
    video = rows["video"].to_numpy()
    ids, inv = np.unique(ident, return_inverse=True)
    vids, vinv = np.unique(video, return_inverse=True)
    n = len(ids)
    tot = np.zeros((n, x.shape[1]))
    np.add.at(tot, inv, x)
    sq = np.zeros((n, x.shape[1]))
    np.add.at(sq, inv, x**2)
    per_video = np.zeros((len(vids), x.shape[1]))
    np.add.at(per_video, vinv, x)
    vid_owner = np.zeros(len(vids), dtype=np.int64)
    vid_owner[vinv] = inv
    same = np.zeros((n, x.shape[1]))
    np.add.at(same, vid_owner, per_video**2)
    items = np.bincount(inv, minlength=n).astype(float)
    per_video_items = np.bincount(vinv, minlength=len(vids)).astype(float)
    same_pairs = np.zeros(n)
    np.add.at(same_pairs, vid_owner, per_video_items * (per_video_items - 1))
    all_pairs = items * (items - 1)
    same_sum = same - sq  # sum over ordered pairs j != k within a video
    diff_sum = tot**2 - same  # pairs in different videos
    return {
        "self": (sq / items[:, None]).mean(1),
        "same_video": (same_sum / same_pairs[:, None]).mean(1),
        "other_video": (diff_sum / (all_pairs - same_pairs)[:, None]).mean(1),
        "_ids": ids,
        "_mean": (tot / items[:, None]),
    }


def _check(name: str, per_identity: np.ndarray, stated: float) -> list[str]:
    mean = float(per_identity.mean())
    se = float(per_identity.std(ddof=1) / np.sqrt(len(per_identity)))
    problems = []
    if abs(mean - stated) > Z_FAIL * se:
        problems.append(f"{name}: sample {mean:.4f} vs stated {stated:.4f} ({(mean - stated) / se:+.1f} SE)")
    if RELATIVE_ERROR * stated / se < Z_FAIL + 1.645:
        problems.append(f"{name}: too little power (a 10% error is only {RELATIVE_ERROR * stated / se:.1f} SE)")
    return problems


def test_sampler_moments_match_the_stated_model(sim):
    cfg = sim.config
    s, e, t = cfg.shared_std**2, cfg.expression_std**2, cfg.specific_std**2
    c, eps, r = cfg.session_std**2, cfg.noise_std**2, cfg.language_interaction_std**2
    assert len(cfg.languages) == 1  # one language: the voice's r_il is shared by all its items
    k = cfg.k_shared
    problems: list[str] = []
    means = {}
    for modality in ("face", "voice"):
        z, rows = _centred(sim, modality)
        extra = r if modality == "voice" else 0.0  # identity x language interaction, same for every item
        shared = _pair_moments(z, rows, slice(0, k))
        specific = _pair_moments(z, rows, slice(k, None))
        stated = {
            ("shared", "other_video"): s + e + extra,
            ("shared", "same_video"): s + e + c + extra,
            ("shared", "self"): s + e + c + eps + extra,
            ("specific", "other_video"): t + extra,
            ("specific", "same_video"): t + c + extra,
            ("specific", "self"): t + c + eps + extra,
        }
        for (part, moment), value in stated.items():
            got = (shared if part == "shared" else specific)[moment]
            problems += _check(f"{modality} {part} {moment}", got, value)
        means[modality] = shared
    assert np.array_equal(means["face"]["_ids"], means["voice"]["_ids"])
    cross = (means["face"]["_mean"] * means["voice"]["_mean"]).mean(1)  # mean face item x mean voice item
    problems += _check("face x voice shared", cross, s)
    assert problems == []


def test_a_doubled_shared_variance_would_be_caught(sim):
    """The same check on the face x voice moment with the stated variance halved (as if the sampler drew
    the shared factor with twice the variance the model states) must report it."""
    z_f, rows_f = _centred(sim, "face")
    z_v, rows_v = _centred(sim, "voice")
    k = sim.config.k_shared
    cross = (_pair_moments(z_f, rows_f, slice(0, k))["_mean"] * _pair_moments(z_v, rows_v, slice(0, k))["_mean"]).mean(
        1
    )
    assert _check("face x voice shared", cross, sim.config.shared_std**2) == []
    assert _check("face x voice shared", cross, 0.5 * sim.config.shared_std**2) != []
    assert _check("face x voice shared", cross, 0.9 * sim.config.shared_std**2) != []
