"""Toy manifests with planted identity signal, and slow obvious re-implementations of the evaluation
engine's scoring (one Python loop iteration per trial / gallery / probe) to check the vectorised code."""

from __future__ import annotations

import numpy as np
import pandas as pd

GENDERS = ("m", "f")
NATIONALITIES = ("us", "uk", "in")
AGES = ("20-29", "30-39", "40-49")


def toy_manifest(n_train=12, n_unseen=10, items=3, seed=0, languages=None, missing_gender=0) -> pd.DataFrame:
    """Train identities (videos v0..v{items-1}) with one extra seen-test video each, and unseen identities.

    ``languages=("en", "ur")``: train voice items speak the first, unseen identities have voice items
    in both. ``missing_gender``: that many unseen identities get an empty gender.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_train + n_unseen):
        ident = f"id{i:03d}"
        attrs = dict(
            gender=GENDERS[rng.integers(2)], nationality=NATIONALITIES[rng.integers(3)], age_band=AGES[rng.integers(3)]
        )
        if n_train <= i < n_train + missing_gender:
            attrs["gender"] = ""
        for m in ("face", "voice"):
            for k in range(items):
                split = "train" if i < n_train else "test_unseen"
                lang = ""
                if languages:
                    lang = languages[0] if (i < n_train or k % 2 == 0) else languages[1]
                rows.append(dict(item_id=f"{ident}-{m}-{k}", identity=ident, modality=m, split=split, video=f"v{k}"))
                rows[-1].update(attrs, language=lang if m == "voice" else "")
            if i < n_train:
                rows.append(dict(item_id=f"{ident}-{m}-s", identity=ident, modality=m, split="test_seen", video="vs"))
                rows[-1].update(attrs, language=languages[0] if (languages and m == "voice") else "")
    return pd.DataFrame(rows)


def planted_embeddings(manifest: pd.DataFrame, dim=16, noise=1.0, seed=0) -> dict[str, tuple[list[str], np.ndarray]]:
    """Item embedding = identity centre + Gaussian noise, per modality: ``{m: (ids, X (n, dim))}``."""
    rng = np.random.default_rng(seed)
    idents = sorted(manifest["identity"].unique())
    centre = dict(zip(idents, rng.normal(size=(len(idents), dim)), strict=True))
    out = {}
    for m in ("face", "voice"):
        sub = manifest[manifest["modality"] == m]
        X = np.stack([centre[i] for i in sub["identity"]]) + noise * rng.normal(size=(len(sub), dim))
        out[m] = (sub["item_id"].tolist(), X)
    return out


def naive_score(p: np.ndarray, c: np.ndarray, metric: str = "cosine") -> float:
    """Cosine similarity or negative Euclidean distance of two vectors."""
    if metric == "cosine":
        return float(np.dot(p, c) / (np.linalg.norm(p) * np.linalg.norm(c)))
    return -float(np.sqrt(np.sum((p - c) ** 2)))


def _lookup(emb):
    return {m: dict(zip(ids, X, strict=True)) for m, (ids, X) in emb.items()}


def naive_pair_scores(trials: pd.DataFrame, emb, metric="cosine") -> np.ndarray:
    """One score per trial row, looping."""
    look = _lookup(emb)
    out = []
    for r in trials.itertuples(index=False):
        pm, cm = ("voice", "face") if r.direction == "v2f" else ("face", "voice")
        out.append(naive_score(look[pm][r.probe_id], look[cm][r.candidate_id], metric))
    return np.array(out)


def naive_gallery_accuracy(galleries: pd.DataFrame, emb) -> float:
    """Fraction of galleries whose highest-scoring candidate is the target (no ties in float data)."""
    look = _lookup(emb)
    hits = []
    for r in galleries.itertuples(index=False):
        pm, cm = ("voice", "face") if r.direction == "v2f" else ("face", "voice")
        s = [naive_score(look[pm][r.probe_id], look[cm][c]) for c in r.candidates]
        hits.append(int(np.argmax(s)) == int(r.target_pos))
    return float(np.mean(hits))


def naive_retrieval(probes, cands, identity: dict, emb, direction: str, ks=(1, 5, 10)) -> dict[str, float]:
    """mAP and R@k by sorting each probe's candidates (no ties in float data)."""
    look = _lookup(emb)
    pm, cm = ("voice", "face") if direction == "v2f" else ("face", "voice")
    aps, hits = [], {k: [] for k in ks}
    for p in probes:
        s = np.array([naive_score(look[pm][p], look[cm][c]) for c in cands])
        rel = np.array([identity[c] == identity[p] for c in cands])[np.argsort(-s)]
        ranks = np.flatnonzero(rel) + 1
        aps.append(np.mean(np.arange(1, ranks.size + 1) / ranks))
        for k in ks:
            hits[k].append(bool(rel[:k].any()))
    return {"map": float(np.mean(aps)), **{f"recall@{k}": float(np.mean(hits[k])) for k in ks}}
