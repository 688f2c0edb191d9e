"""Slow, obvious reference for the simceleb oracle: dense multivariate normal densities (scipy).

The covariance between two latent coordinates of two items of one identity is written out from
the generative description (docs/simceleb.md §2) item pair by item pair, independently of the
factor-loading formulation used by facevoice.simceleb.components; densities are evaluated on the
full latent vectors (shared and modality-specific coordinates) and mixtures are summed term by term.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

ATTRS = ("gender", "nationality", "age_band")


def _item_info(sim, modality: str, row: int) -> dict:
    df = sim.bundle.rows(modality)
    r = df.iloc[row]
    z = sim.latents.face[row] if modality == "face" else sim.latents.voice[row]
    return {
        "mod": modality,
        "video": r["video"],
        "lang": sim.config.languages.index(r["language"]),
        "item": r["item_id"],
        "z": z,
    }


def _kernel(a: dict, b: dict, sim) -> np.ndarray:
    """Covariance matrix between the latent vectors of items a and b of the *same* identity."""
    v = sim.world.variances
    k = sim.config.k_shared
    da, db = len(a["z"]), len(b["z"])
    C = np.zeros((da, db))
    same_mod = a["mod"] == b["mod"]
    both_voice = a["mod"] == "voice" and b["mod"] == "voice"
    same_video = same_mod and a["video"] == b["video"]
    same_item = same_mod and a["item"] == b["item"]
    for d in range(min(da, db)):
        shared = d < k
        if not shared and not same_mod:
            continue  # face-specific and voice-specific coordinates are independent
        c = 0.0
        if shared:
            c += v.s + (v.e if same_mod else 0.0)
        else:
            c += v.t
        if both_voice and a["lang"] == b["lang"]:
            c += v.r
        if same_video:
            c += v.c
        if same_item:
            c += v.eps
        C[d, d] = c
    return C


def _mean(info: dict, mu: np.ndarray, sim) -> np.ndarray:
    k = sim.config.k_shared
    m = np.zeros(len(info["z"]))
    m[:k] = mu
    if info["mod"] == "voice":
        m = m + sim.world.language_offsets[info["lang"]]
    return m


def _joint_logpdf(items: list[dict], mu: np.ndarray, sim) -> float:
    z = np.concatenate([it["z"] for it in items])
    m = np.concatenate([_mean(it, mu, sim) for it in items])
    C = np.block([[_kernel(a, b, sim) for b in items] for a in items])
    return float(multivariate_normal(m, C, allow_singular=False).logpdf(z))


def _key(attrs, columns) -> tuple:
    return tuple(attrs[ATTRS.index(c)] for c in columns)


def prior_llr(sim, face_row: int, voice_row: int, columns: tuple[str, ...] = ()) -> float:
    """LLR of one pair under the population prior (unseen identities)."""
    f, v = _item_info(sim, "face", face_row), _item_info(sim, "voice", voice_row)
    prior = np.exp(sim.world.log_prior)
    h1, lf, lv = [], [], []
    for a, mu in enumerate(sim.world.means):
        h1.append(np.log(prior[a]) + _joint_logpdf([f, v], mu, sim))
        lf.append(_joint_logpdf([f], mu, sim))
        lv.append(_joint_logpdf([v], mu, sim))
    groups: dict[tuple, list[int]] = {}
    for a, combo in enumerate(sim.world.combos):
        groups.setdefault(_key(combo, columns), []).append(a)
    h0 = []
    for members in groups.values():
        pg = prior[members].sum()
        pf = sum(prior[a] / pg * np.exp(lf[a]) for a in members)
        pv = sum(prior[a] / pg * np.exp(lv[a]) for a in members)
        h0.append(np.log(pg) + np.log(pf) + np.log(pv))
    return float(logsumexp(h1) - logsumexp(h0))


def seen_llr(sim, face_row: int, voice_row: int, columns: tuple[str, ...] = ()) -> float:
    """LLR of one pair of test_seen items given every training identity's training items."""
    f, v = _item_info(sim, "face", face_row), _item_info(sim, "voice", voice_row)
    man = sim.bundle.manifest
    train = man[man["split"] == "train"]
    idents = sorted(train["identity"].unique())
    combo_index = {c: i for i, c in enumerate(sim.world.combos)}
    log_joint, log_f, log_v, keys = [], [], [], []
    for ident in idents:
        items = []
        for mod in ("face", "voice"):
            rows = sim.bundle.rows(mod)
            for row in np.flatnonzero(((rows["identity"] == ident) & (rows["split"] == "train")).to_numpy()):
                items.append(_item_info(sim, mod, int(row)))
        attrs = tuple(train.loc[train["identity"] == ident, list(ATTRS)].iloc[0])
        mu = sim.world.means[combo_index[attrs]]
        base = _joint_logpdf(items, mu, sim)
        log_joint.append(_joint_logpdf([*items, f, v], mu, sim) - base)
        log_f.append(_joint_logpdf([*items, f], mu, sim) - base)
        log_v.append(_joint_logpdf([*items, v], mu, sim) - base)
        keys.append(_key(attrs, columns))
    n = len(idents)
    h1 = logsumexp(log_joint) - np.log(n)
    sizes = {key: keys.count(key) for key in set(keys)}
    n_elig = sum(s for s in sizes.values() if s >= 2)
    terms = []
    for i in range(n):
        for j in range(n):
            if i != j and keys[i] == keys[j]:
                w = 1.0 / (n_elig * (sizes[keys[i]] - 1))
                terms.append(np.log(w) + log_f[i] + log_v[j])
    return float(h1 - logsumexp(terms))


def tiny_config(**overrides):
    """A small simceleb config (few identities, low dimensions) for fast tests."""
    from facevoice.simceleb.presets import SimConfig

    base = dict(
        name="tiny",
        n_identities=12,
        n_train=6,
        n_val=2,
        demographics=(("f", "X", 3), ("m", "X", 2), ("m", "Y", 4)),
        age_bands=("young", "old"),
        age_probs=(0.6, 0.4),
        videos_per_language=(3,),
        test_seen_videos=1,
        face_items_per_video=2,
        voice_items_per_video=1,
        k_shared=2,
        k_face=2,
        k_voice=3,
        d_face=24,
        d_voice=16,
        map_hidden=8,
    )
    base.update(overrides)
    return SimConfig(**base)
