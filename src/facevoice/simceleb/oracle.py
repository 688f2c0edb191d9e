"""The Bayes-optimal ("oracle") matcher of a ``simceleb`` simulation.

Score of a (face item, voice item) pair = the exact log-likelihood ratio of "same identity" vs
"different identities" given the two items' latent codes (which carry all the information of the
observed vectors: the maps are injective), under the generative model and the trial-generating
distribution of the protocol:

- ``mode="prior"`` (unseen identities): components are the attribute combinations a with prior
  pi_a; the shared Gaussian factors are marginalised in closed form.
- ``mode="seen"`` (seen-heard): components are the training identities, each with the Gaussian
  posterior predictive given its training items (:mod:`facevoice.simceleb.components`).
- ``constraint`` ("G", "N", "A", "GNA", ...): negatives share those attributes with the probe,
  so the "different" hypothesis is restricted accordingly.

By Neyman-Pearson this score is the most powerful test at every threshold (best ROC / EER of
any non-transductive matcher), and its argmax is the Bayes decision for 1:N with one true match
(exactly so for unseen identities). Derivation: docs/simceleb.md §4.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from facevoice.simceleb.components import (
    LSE_BUDGET,
    Components,
    group_lse,
    loo_lse,
    lse_matrix,
    lse_pairs,
    prior_components,
    seen_components,
)
from facevoice.simceleb.result import SimResult

_LETTERS = {"G": "gender", "N": "nationality", "A": "age_band"}
_ATTRS = ("gender", "nationality", "age_band")


def parse_constraint(constraint: str | Iterable[str] | None) -> tuple[str, ...]:
    """``None``/"random" -> (); "G"/"N"/"A"/"GNA" (letters) or attribute names -> attribute names."""
    if constraint is None or (isinstance(constraint, str) and constraint.lower() in {"", "random", "none"}):
        return ()
    if isinstance(constraint, str):
        items = [constraint] if constraint in _ATTRS else list(constraint.upper())
    else:
        items = list(constraint)
    out = []
    for item in items:
        name = _LETTERS.get(item, item)
        if name not in _ATTRS:
            raise ValueError(f"unknown constraint {item!r} in {constraint!r}; use letters G/N/A or {_ATTRS}")
        if name not in out:
            out.append(name)
    return tuple(a for a in _ATTRS if a in out)


def _labels(attrs: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """Group label (C,) of each component by the constrained attributes."""
    if not columns:
        return np.zeros(len(attrs), dtype=np.int64)
    keys = ["\x1f".join(row) for row in attrs[:, [_ATTRS.index(c) for c in columns]]]
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


def _sqdist(X: np.ndarray, M: np.ndarray) -> np.ndarray:
    return np.maximum((X**2).sum(1)[:, None] - 2.0 * X @ M.T + (M**2).sum(1)[None, :], 0.0)


class _Parts:
    """Face parts, voice parts and the cross coefficient of the LLR for one set of items (docs/simceleb.md §4)."""

    def __init__(self, comp: Components, Zf, Zv, vlang, columns: tuple[str, ...], closed: bool) -> None:
        k = comp.mf.shape[1]
        f, fspec, v, vspec = Zf[:, :k], Zf[:, k:], Zv[:, :k], Zv[:, k:]
        self.f, self.v, self.vlang = f, v, vlang
        n_lang = comp.S.shape[0]
        P = np.linalg.inv(comp.S)  # (L, 2, 2)
        self.cross = -P[:, 0, 1]
        sf = np.zeros((len(f), len(comp.log_w)))
        sv = np.zeros((len(v), len(comp.log_w)))
        if comp.fs is not None:
            sf = -0.5 * fspec.shape[1] * np.log(2 * np.pi * comp.qf) - _sqdist(fspec, comp.fs) / (2 * comp.qf)
            for lang in range(n_lang):
                m = vlang == lang
                sv[m] = -0.5 * vspec.shape[1] * np.log(2 * np.pi * comp.qv[lang])
                sv[m] -= _sqdist(vspec[m], comp.vs[lang]) / (2 * comp.qv[lang])
        d_f = _sqdist(f, comp.mf)
        self.A1, B1, lv = [], np.empty_like(sv), np.empty_like(sv)
        for lang in range(n_lang):
            p11, p12, p22 = P[lang, 0, 0], P[lang, 0, 1], P[lang, 1, 1]
            mv = comp.mv[lang]
            const = -k * np.log(2 * np.pi) - 0.5 * k * np.log(np.linalg.det(comp.S[lang]))
            cross_m = (comp.mf * mv).sum(1)
            self.A1.append(comp.log_w + const - 0.5 * p11 * d_f + p12 * (f @ mv.T) - p12 * cross_m + sf)
            m = vlang == lang
            d_v = _sqdist(v[m], mv)
            B1[m] = -0.5 * p22 * d_v + p12 * (v[m] @ comp.mf.T) + sv[m]
            s11 = comp.S[lang, 1, 1]
            lv[m] = -0.5 * k * np.log(2 * np.pi * s11) - d_v / (2 * s11) + sv[m]
        self.B1 = B1
        s00 = comp.S[0, 0, 0]
        lf = -0.5 * k * np.log(2 * np.pi * s00) - d_f / (2 * s00) + sf
        labels = _labels(comp.attrs, columns)
        if closed:  # negatives: a different training identity of the same group, uniformly
            sizes = np.bincount(labels)
            eligible = sizes[labels] >= 2
            if not eligible.any():
                raise ValueError(f"constraint {columns} leaves no pair of distinct training identities")
            log_wg = np.where(eligible, -np.log(eligible.sum()) - np.log(np.maximum(sizes[labels] - 1, 1)), -np.inf)
            self.A0, self.B0 = lf + log_wg, loo_lse(lv, labels)
        else:  # negatives: independent identities from the population, sharing the group
            self.A0 = group_lse(comp.log_w + lf, labels)
            log_pg = group_lse(comp.log_w[None], labels)[0]
            self.B0 = group_lse(comp.log_w + lv, labels) - log_pg

    def pairs(self, fi: np.ndarray, vi: np.ndarray) -> np.ndarray:
        out = (self.f[fi] * self.v[vi]).sum(1) * self.cross[self.vlang[vi]] - lse_pairs(self.A0, self.B0, fi, vi)
        for lang, A1 in enumerate(self.A1):
            m = self.vlang[vi] == lang
            out[m] += lse_pairs(A1, self.B1, fi[m], vi[m])
        return out

    def matrix(self) -> np.ndarray:
        out = -lse_matrix(self.A0, self.B0)
        for lang, A1 in enumerate(self.A1):
            cols = np.flatnonzero(self.vlang == lang)
            if len(cols):
                out[:, cols] += self.cross[lang] * (self.f @ self.v[cols].T) + lse_matrix(A1, self.B1[cols])
        return out


class SimOracle:
    """Exact LLR scores of a simulation (higher = more likely the same person)."""

    def __init__(self, sim: SimResult) -> None:
        self.sim = sim
        self._rows = {m: sim.bundle.rows(m) for m in ("face", "voice")}
        self._index = {m: pd.Index(df["item_id"]) for m, df in self._rows.items()}
        self._latents = {"face": sim.latents.face, "voice": sim.latents.voice}
        lang_pos = {name: i for i, name in enumerate(sim.config.languages)}
        self._vlang = self._rows["voice"]["language"].map(lang_pos).to_numpy()
        if np.isnan(self._vlang.astype(float)).any():
            raise ValueError(f"voice items with a language outside {sim.config.languages}")
        self._vlang = self._vlang.astype(np.int64)
        self._comp: dict[str, Components] = {}

    def components(self, mode: str) -> Components:
        """Mixture components of ``mode`` ("prior" or "seen"), built once."""
        if mode not in self._comp:
            if mode == "prior":
                self._comp[mode] = prior_components(self.sim)
            elif mode == "seen":
                self._comp[mode] = seen_components(
                    self.sim.world, self.sim.bundle.manifest, self._latents, self.sim.config.languages
                )
            else:
                raise ValueError(f"oracle mode must be 'auto', 'prior' or 'seen', got {mode!r}")
        return self._comp[mode]

    def _rows_of(self, modality: str, ids: Sequence[str]) -> np.ndarray:
        pos = self._index[modality].get_indexer(pd.Index(np.asarray(ids, dtype=str)))
        if (pos < 0).any():
            bad = np.asarray(ids, dtype=str)[pos < 0]
            raise KeyError(f"{len(bad)} {modality} item id(s) not in this simulation, e.g. {bad[:3].tolist()}")
        return pos

    def _parts(self, fr: np.ndarray, vr: np.ndarray, constraint, mode: str) -> tuple[_Parts, np.ndarray, np.ndarray]:
        """LLR parts of the unique items among face rows ``fr`` and voice rows ``vr``, and their inverse indices."""
        fu, fi = np.unique(fr, return_inverse=True)
        vu, vi = np.unique(vr, return_inverse=True)
        comp = self.components(mode)
        if mode == "seen":
            known = set(comp.identities or [])
            idents = {*self._rows["face"]["identity"].to_numpy()[fu], *self._rows["voice"]["identity"].to_numpy()[vu]}
            if not idents <= known:
                raise ValueError(f"mode='seen' scores training identities only; got e.g. {sorted(idents - known)[:3]}")
        Zf, Zv = self._latents["face"][fu], self._latents["voice"][vu]
        parts = _Parts(comp, Zf, Zv, self._vlang[vu], parse_constraint(constraint), closed=mode == "seen")
        return parts, fi, vi

    def _seen(self, modality: str, rows: np.ndarray) -> np.ndarray:
        return self._rows[modality]["split"].to_numpy()[rows] == "test_seen"

    def _pair_scores(self, fr: np.ndarray, vr: np.ndarray, constraint, mode: str) -> np.ndarray:
        parts, fi, vi = self._parts(fr, vr, constraint, mode)
        if len(parts.f) * len(parts.v) <= min(4 * len(fi), LSE_BUDGET * 8):  # dense lists: one matrix product
            return parts.matrix()[fi, vi]
        return parts.pairs(fi, vi)

    def scores(self, face_ids: Sequence[str], voice_ids: Sequence[str], constraint=None, mode: str = "auto"):
        """LLR of each trial pair (face_ids[p], voice_ids[p]): (n,) float64.

        ``mode="auto"``: the seen-identity oracle for pairs of two ``test_seen`` items, the prior one otherwise.
        """
        if len(face_ids) != len(voice_ids):
            raise ValueError(f"{len(face_ids)} face ids but {len(voice_ids)} voice ids")
        if mode not in ("auto", "prior", "seen"):
            raise ValueError(f"oracle mode must be 'auto', 'prior' or 'seen', got {mode!r}")
        fr, vr = self._rows_of("face", face_ids), self._rows_of("voice", voice_ids)
        if mode != "auto":
            return self._pair_scores(fr, vr, constraint, mode) if len(fr) else np.empty(0)
        seen = self._seen("face", fr) & self._seen("voice", vr)
        out = np.empty(len(fr))
        for mask, m in ((seen, "seen"), (~seen, "prior")):
            if mask.any():
                out[mask] = self._pair_scores(fr[mask], vr[mask], constraint, m)
        return out

    def score_matrix(self, face_ids: Sequence[str], voice_ids: Sequence[str], constraint=None, mode: str = "auto"):
        """LLR of every (face, voice) combination: (len(face_ids), len(voice_ids)) float64 (``mode`` as in scores)."""
        if mode not in ("auto", "prior", "seen"):
            raise ValueError(f"oracle mode must be 'auto', 'prior' or 'seen', got {mode!r}")
        fr, vr = self._rows_of("face", face_ids), self._rows_of("voice", voice_ids)
        sf, sv = (self._seen("face", fr), self._seen("voice", vr)) if mode == "auto" else (None, None)
        if mode == "auto":
            mode = "seen" if sf.all() and sv.all() else "prior"
        parts, fi, vi = self._parts(fr, vr, constraint, mode)
        out = parts.matrix()[np.ix_(fi, vi)]
        if mode == "prior" and sf is not None and sf.any() and sv.any():  # pairs of two test_seen items
            parts, fi, vi = self._parts(fr[sf], vr[sv], constraint, "seen")
            out[np.ix_(sf, sv)] = parts.matrix()[np.ix_(fi, vi)]
        return out


def oracle_score_fn(sim: SimResult, constraint=None, mode: str = "auto"):
    """``score_fn(probe_ids (T,), cand_ids (T,), direction) -> (T,)`` for ``facevoice.eval.evaluate_score_fn``.

    ``direction`` "v2f": probes are voice items and candidates face items; "f2v": the reverse.
    """

    def score_fn(probe_ids, cand_ids, direction: str) -> np.ndarray:
        if direction not in ("v2f", "f2v"):
            raise ValueError(f"direction must be 'v2f' or 'f2v', got {direction!r}")
        face, voice = (cand_ids, probe_ids) if direction == "v2f" else (probe_ids, cand_ids)
        return sim.oracle.scores(face, voice, constraint=constraint, mode=mode)

    return score_fn


def oracle_scores(sim: SimResult, face_ids, voice_ids, constraint=None, mode: str = "auto") -> np.ndarray:
    """Oracle LLR of trial pairs: (n,). See :meth:`SimOracle.scores`."""
    return sim.oracle.scores(face_ids, voice_ids, constraint=constraint, mode=mode)


def oracle_score_matrix(sim: SimResult, face_ids, voice_ids, constraint=None, mode: str = "auto") -> np.ndarray:
    """Oracle LLR of every face x voice combination: (n_face, n_voice). See :meth:`SimOracle.score_matrix`."""
    return sim.oracle.score_matrix(face_ids, voice_ids, constraint=constraint, mode=mode)
