"""Mixture components of the simceleb oracle: the population prior and the seen training identities.

:func:`prior_components`: one component per attribute combination a (unseen identities).

:func:`seen_components`: one component per *training* identity, the posterior predictive of a new
face item and a new voice item (new videos) given its training items. Every latent coordinate
follows a small linear-Gaussian model (factors s, e, t, r, session offsets, noise;
docs/simceleb.md §4), so the predictive is Gaussian, its means are linear in the centred
training latents and its covariance is the same for every identity with the same item design.

Also the numerically exact log-sum-exp kernels over components that the oracle is built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from facevoice.simceleb.result import SimResult
from facevoice.simceleb.world import FactorVariances, World

LSE_BUDGET = 1 << 22  # float64 cells per temporary block


@dataclass
class Components:
    """Per-component Gaussian predictive of (face latent, voice latent) for each voice language l.

    Shared coordinates: means ``mf`` (C, K) and ``mv`` (L, C, K), per-coordinate 2x2 covariance
    ``S`` (L, 2, 2). Modality-specific coordinates (None when identical for every component):
    means ``fs`` (C, M_f), ``vs`` (L, C, M_v), variances ``qf`` and ``qv`` (L,).
    ``log_w`` (C,) are prior log weights; ``attrs`` (C, 3) the (gender, nationality, age band).
    """

    log_w: np.ndarray
    mf: np.ndarray
    mv: np.ndarray
    S: np.ndarray
    attrs: np.ndarray
    fs: np.ndarray | None = None
    vs: np.ndarray | None = None
    qf: float = 1.0
    qv: np.ndarray | None = None
    identities: list[str] | None = None


def _factor_var(key: str, var: FactorVariances) -> float:
    kind = key.split(":")[0]
    return {"s": var.s, "ef": var.e, "ev": var.e, "t": var.t, "r": var.r, "cf": var.c, "cv": var.c, "eps": var.eps}[
        kind
    ]


def _cov(a: list[frozenset[str]], b: list[frozenset[str]], var: FactorVariances) -> np.ndarray:
    """Covariance of sums of independent factors: entry (i, j) = sum of the variances shared by a[i], b[j]."""
    return np.array([[sum(_factor_var(k, var) for k in x & y) for y in b] for x in a], dtype=np.float64).reshape(
        len(a), len(b)
    )


def predictive(
    obs: list[frozenset[str]], targets: list[frozenset[str]], var: FactorVariances
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian conditioning: ``H`` (T, O) with E[target | obs] = H obs, and the covariance (T, T)."""
    C_tt = _cov(targets, targets, var)
    if not obs:
        return np.zeros((len(targets), 0)), C_tt
    K = _cov(obs, obs, var)
    C_ty = _cov(targets, obs, var)
    H = C_ty @ np.linalg.pinv(K, hermitian=True)
    return H, C_tt - H @ C_ty.T


def _item_factors(mod: str, video: int, lang: int, tag: str, part: str) -> frozenset[str]:
    """Factors of one latent coordinate of an item (part: 'pair' shared block or 'spec' specific block)."""
    m = "f" if mod == "face" else "v"
    keys = {f"c{m}:{video}", f"eps:{tag}"}
    keys |= {"s", f"e{m}"} if part == "pair" else {"t"}
    if mod == "voice":
        keys.add(f"r:{lang}")
    return frozenset(keys)


def seen_components(
    world: World, manifest: pd.DataFrame, latents: dict[str, np.ndarray], languages: tuple[str, ...]
) -> Components:
    """One component per training identity: predictive of a new face / voice item given its ``train`` items.

    ``manifest`` is the bundle manifest, ``latents[m]`` aligned with its ``m`` rows. All training
    identities must share one item design (same videos, languages and items per modality).
    """
    k, var = world.k_shared, world.variances
    rows = {m: manifest[manifest["modality"] == m].reset_index(drop=True) for m in ("face", "voice")}
    designs, blocks = {}, {}
    for mod, df in rows.items():
        tr = df[df["split"] == "train"].copy()
        if tr.empty:
            raise ValueError("the seen-identity oracle needs training items; this simulation has none")
        tr["row"] = tr.index
        tr["vrank"] = tr.groupby("identity")["video"].rank(method="dense").astype(int) - 1
        tr = tr.sort_values(["identity", "vrank", "item_id"])
        designs[mod] = {
            ident: tuple(zip(g["vrank"], g["language"], strict=True)) for ident, g in tr.groupby("identity", sort=True)
        }
        blocks[mod] = tr
    idents = sorted(designs["face"])
    if sorted(designs["voice"]) != idents:
        raise ValueError("training identities differ between the face and the voice items")
    distinct = {(designs["face"][i], designs["voice"][i]) for i in idents}
    if len(distinct) != 1:
        raise ValueError(
            f"the seen-identity oracle needs one item design for all training identities, found {len(distinct)}"
        )
    f_design, v_design = distinct.pop()
    lang_index = {name: i for i, name in enumerate(languages)}
    n_id, n_fo, n_vo = len(idents), len(f_design), len(v_design)
    Zf = latents["face"][blocks["face"]["row"].to_numpy()].reshape(n_id, n_fo, -1).copy()
    Zv = latents["voice"][blocks["voice"]["row"].to_numpy()].reshape(n_id, n_vo, -1).copy()
    first = blocks["face"].drop_duplicates("identity").set_index("identity").loc[idents]
    combo_index = {c: i for i, c in enumerate(world.combos)}
    attrs = first[["gender", "nationality", "age_band"]].to_numpy(dtype=str)
    missing = [tuple(a) for a in attrs if tuple(a) not in combo_index]
    if missing:
        raise ValueError(f"training identities with attributes outside the world's table, e.g. {missing[:3]}")
    mu = world.means[[combo_index[tuple(a)] for a in attrs]]  # (n_id, K)
    Zf[:, :, :k] -= mu[:, None]
    Zv[:, :, :k] -= mu[:, None]
    v_obs_lang = np.array([lang_index[lang] for _, lang in v_design])
    Zv -= world.language_offsets[v_obs_lang][None]
    f_items = [(v, lang_index[lang], f"f{i}") for i, (v, lang) in enumerate(f_design)]
    v_items = [(v, lang_index[lang], f"v{i}") for i, (v, lang) in enumerate(v_design)]
    mf = fs = qf = None
    mv, vs, S, qv = [], [], [], []
    for lang in range(len(languages)):
        new_f = _item_factors("face", -1, lang, "fnew", "pair")
        new_v = _item_factors("voice", -1, lang, "vnew", "pair")
        obs = [_item_factors("face", v, li, t, "pair") for v, li, t in f_items]
        obs += [_item_factors("voice", v, li, t, "pair") for v, li, t in v_items]
        H, S_l = predictive(obs, [new_f, new_v], var)
        Y = np.concatenate([Zf[:, :, :k], Zv[:, :, :k]], axis=1)  # (n_id, n_fo + n_vo, K)
        pred = np.einsum("to,iok->tik", H, Y)
        mf = mu + pred[0]
        mv.append(mu + world.language_offsets[lang, :k] + pred[1])
        S.append(S_l)
        f_obs = [_item_factors("face", v, li, t, "spec") for v, li, t in f_items]
        Hf, Sf = predictive(f_obs, [_item_factors("face", -1, lang, "fnew", "spec")], var)
        v_obs = [_item_factors("voice", v, li, t, "spec") for v, li, t in v_items]
        Hv, Sv = predictive(v_obs, [_item_factors("voice", -1, lang, "vnew", "spec")], var)
        fs, qf = np.einsum("o,iok->ik", Hf[0], Zf[:, :, k:]), float(Sf[0, 0])
        vs.append(world.language_offsets[lang, k:] + np.einsum("o,iok->ik", Hv[0], Zv[:, :, k:]))
        qv.append(float(Sv[0, 0]))
    return Components(
        log_w=np.full(n_id, -np.log(n_id)),
        mf=mf,
        mv=np.stack(mv),
        S=np.stack(S),
        attrs=attrs,
        fs=fs,
        vs=np.stack(vs),
        qf=qf,
        qv=np.asarray(qv),
        identities=idents,
    )


def prior_components(sim: SimResult) -> Components:
    """One component per attribute combination a: shared-coordinate means mu_a (voice: + o_l)."""
    world, var, k = sim.world, sim.world.variances, sim.world.k_shared
    S = np.array([[var.s + var.e + var.c + var.eps, var.s], [var.s, var.s + var.e + var.r + var.c + var.eps]])
    n_lang = len(sim.config.languages)
    mv = world.means[None] + world.language_offsets[:, None, :k]
    return Components(world.log_prior, world.means, mv, np.repeat(S[None], n_lang, 0), np.asarray(world.combos))


def group_lse(L: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log-sum-exp of the columns of L (n, C) within each group: (n, G)."""
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    Ls = L[:, order]
    M = np.maximum.reduceat(Ls, starts, axis=1)
    Mf = np.where(np.isfinite(M), M, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.add.reduceat(np.exp(Ls - Mf[:, lab]), starts, axis=1)) + Mf


def loo_lse(L: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """out[:, i] = log sum_{j in group(i), j != i} exp(L[:, j]) for L (n, C), computed without cancellation."""
    out = np.full(L.shape, -np.inf)
    rows = np.arange(len(L))
    for g in np.unique(labels):
        idx = np.flatnonzero(labels == g)
        if len(idx) < 2:
            continue
        sub = L[:, idx]
        T = logsumexp(sub, axis=1)
        top = sub.argmax(1)
        with np.errstate(divide="ignore"):  # non-maximal entries hold <= half of the total: log1p is stable
            loo = T[:, None] + np.log1p(-np.exp(np.minimum(sub - T[:, None], 0.0)))
        masked = sub.copy()
        masked[rows, top] = -np.inf
        loo[rows, top] = logsumexp(masked, axis=1)
        out[:, idx] = loo
    return out


def _lse_pairs_exact(A: np.ndarray, B: np.ndarray, fi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    out = np.empty(len(fi))
    step = max(1, LSE_BUDGET // max(A.shape[1], 1))
    for s in range(0, len(fi), step):
        out[s : s + step] = logsumexp(A[fi[s : s + step]] + B[vi[s : s + step]], axis=1)
    return out


def _shifted_exp(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exp(A - rowmax) and the row maxima (0 for rows that are all -inf)."""
    m = A.max(1)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.exp(A - m[:, None]), m


def lse_pairs(A: np.ndarray, B: np.ndarray, fi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """log sum_c exp(A[fi[p], c] + B[vi[p], c]) for each pair p: (n,).

    Row-shifted exponentials multiply exactly; pairs whose sum underflows are recomputed directly.
    """
    EA, a0 = _shifted_exp(A)
    EB, b0 = _shifted_exp(B)
    out = np.empty(len(fi))
    step = max(1, LSE_BUDGET // max(A.shape[1], 1))
    bad = []
    for s in range(0, len(fi), step):
        f, v = fi[s : s + step], vi[s : s + step]
        total = np.einsum("ij,ij->i", EA[f], EB[v])
        with np.errstate(divide="ignore"):
            out[s : s + step] = np.log(total) + a0[f] + b0[v]
        bad.append(s + np.flatnonzero(total < 1e-250))
    bad_idx = np.concatenate(bad) if bad else np.empty(0, dtype=np.int64)
    if len(bad_idx):
        out[bad_idx] = _lse_pairs_exact(A, B, fi[bad_idx], vi[bad_idx])
    return out


def lse_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """log sum_c exp(A[i, c] + B[j, c]) for all (i, j): (n_a, n_b), via one matrix product.

    Entries whose product underflows are recomputed exactly pair by pair.
    """
    EA, a0 = _shifted_exp(A)
    EB, b0 = _shifted_exp(B)
    M = EA @ EB.T
    with np.errstate(divide="ignore"):
        out = np.log(M) + a0[:, None] + b0[None, :]
    bad_i, bad_j = np.nonzero(M < 1e-250)
    if len(bad_i):
        out[bad_i, bad_j] = _lse_pairs_exact(A, B, bad_i, bad_j)
    return out
