"""The evaluation engine: protocols + scores -> a long results table.

Result table (one row per figure), columns :data:`RESULT_COLUMNS`:

``protocol``    ``verification``, ``matching`` (1:N) or ``retrieval``
``split``       e.g. ``test_unseen``, ``test_seen``, ``test_unseen:heard``
``direction``   ``v2f`` / ``f2v``
``constraint``  verification: ``random G N A GNA`` (or the trial list's own); matching: ``N=<size>``;
                retrieval: ``all``
``n``           trials / galleries / probes the figure is computed on
``metric``      verification ``eer auc min_dcf`` (+ ``cllr min_cllr act_dcf`` with calibration, on by
                default for scorers of log-likelihood ratios; + ``reference_eer reference_auc`` on request);
                matching ``accuracy``; retrieval ``map recall@1 recall@5 recall@10``
``value``       the figure, rates as fractions

Everything is vectorised: trials are scored per direction in one call, galleries with gathered
index arrays, retrieval as one probe x candidate matrix per split and direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from facevoice.eval import metrics
from facevoice.eval.protocols.io import read_trials
from facevoice.eval.protocols.protocol_set import KINDS, ProtocolSet
from facevoice.eval.scoring.scorers import EmbeddingScorer, FunctionScorer

__all__ = [
    "RESULT_COLUMNS",
    "as_protocol_set",
    "resolve_trials",
    "evaluate_protocols",
    "evaluate_embeddings",
    "evaluate_score_fn",
    "evaluate_scores",
    "attach_labels",
    "score_trials",
    "label_scores",
]

RESULT_COLUMNS: tuple[str, ...] = ("protocol", "split", "direction", "constraint", "n", "metric", "value")


def as_protocol_set(protocols) -> ProtocolSet:
    """A :class:`ProtocolSet` from a set, a trial DataFrame, a protocol folder or a trial-list file."""
    if isinstance(protocols, ProtocolSet):
        return protocols
    if isinstance(protocols, pd.DataFrame):
        return ProtocolSet(trials=protocols)
    path = Path(protocols)
    if path.is_dir():
        return ProtocolSet.load(path)

    return ProtocolSet(trials=read_trials(path))


def _lookups(ps: ProtocolSet, metadata: pd.DataFrame | None, scorer) -> tuple[dict, dict]:
    """item_id -> identity and item_id -> modality from the set's items, the manifest and the scorer."""
    identity, modality = {}, {}
    for table in (metadata, ps.items):
        if table is not None and len(table):
            ids = table["item_id"].astype(str).tolist()
            identity.update(zip(ids, table["identity"].astype(str).tolist(), strict=True))
            if "modality" in table.columns:
                modality.update(zip(ids, table["modality"].astype(str).tolist(), strict=True))
    if isinstance(scorer, EmbeddingScorer):
        for m in ("face", "voice"):
            modality.update(dict.fromkeys(scorer.ids(m), m))
    return identity, modality


def resolve_trials(trials: pd.DataFrame, identity: dict, modality: dict, infer_direction: bool = True) -> pd.DataFrame:
    """Fill unknown labels (-1) from identities and (``infer_direction``) empty directions from item modalities.

    Raises ``ValueError`` naming trials whose label or direction cannot be determined.
    """
    t = trials.copy()
    for c, default in (("direction", ""), ("constraint", ""), ("split", "")):
        if c not in t.columns:
            t[c] = default
    if "label" not in t.columns:
        t["label"] = -1
    t["label"] = t["label"].astype(np.int8)
    todo = (t["label"] < 0).to_numpy()
    if todo.any():
        pi = t.loc[todo, "probe_id"].map(identity)
        ci = t.loc[todo, "candidate_id"].map(identity)
        unknown = pi.isna() | ci.isna()
        if unknown.any():
            ex = t.loc[todo].loc[unknown.to_numpy(), ["probe_id", "candidate_id"]].head(3).values.tolist()
            raise ValueError(
                f"{int(unknown.sum())} trial(s) have no label and an item of unknown identity, e.g. {ex}; "
                "give labels in the trial list or a manifest holding these items"
            )
        t.loc[todo, "label"] = (pi.to_numpy() == ci.to_numpy()).astype(np.int8)
    todo = (t["direction"] == "").to_numpy() & infer_direction
    if todo.any():
        pm, cm = t.loc[todo, "probe_id"].map(modality), t.loc[todo, "candidate_id"].map(modality)
        d = np.where((pm == "voice") & (cm == "face"), "v2f", np.where((pm == "face") & (cm == "voice"), "f2v", ""))
        if (d == "").any():
            ex = t.loc[todo].loc[d == "", ["probe_id", "candidate_id"]].head(3).values.tolist()
            raise ValueError(
                f"{int((d == '').sum())} trial(s) have no direction and are not (voice, face) or (face, voice) "
                f"pairs of known items, e.g. {ex}"
            )
        t.loc[todo, "direction"] = d
    return t


def _verification_rows(
    scores, labels, key: dict, p_target: float, reference: bool, score_range, calibration: bool = False
) -> list[dict]:
    y = np.asarray(labels)
    if y.min() == y.max():
        raise ValueError(f"verification group {key} has only {'positive' if y[0] else 'negative'} trials ({y.size})")
    rep = metrics.verification_report(scores, y, p_target=p_target)
    figures = {"eer": rep["eer"], "auc": rep["auc"], "min_dcf": rep["min_dcf"]}
    if calibration:  # scores read as natural-log likelihood ratios (facevoice.eval.metrics.calibration)
        figures.update(metrics.calibration_report(scores, y, p_target=p_target))
    if reference:  # score_range None: the grid spans the scores themselves (e.g. log-likelihood ratios)
        span = score_range or (float(np.min(scores)), float(np.max(scores)))
        figures["reference_eer"] = metrics.reference_eer(scores, y, score_range=span).eer
        figures["reference_auc"] = metrics.reference_auc(scores, y, score_range=span)
    return [dict(key, n=int(y.size), metric=m, value=float(v)) for m, v in figures.items()]


def _verification(trials, scorer, p_target, reference, score_range, calibration=False) -> list[dict]:
    rows = []
    scores = np.empty(len(trials), dtype=np.float64)
    for d, idx in trials.groupby("direction", sort=False).indices.items():
        sub = trials.iloc[idx]
        scores[idx] = scorer.pairs(sub["probe_id"].to_numpy(str), sub["candidate_id"].to_numpy(str), d)
    groups = trials.groupby(["split", "direction", "constraint"], sort=False).indices
    for (split, d, con), idx in groups.items():
        key = dict(protocol="verification", split=split, direction=d, constraint=con)
        y = trials["label"].to_numpy()[idx]
        rows += _verification_rows(scores[idx], y, key, p_target, reference, score_range, calibration)
    return rows


def _matching(galleries, scorer) -> list[dict]:
    rows = []
    for (split, d, n), sub in galleries.groupby(["split", "direction", "n"], sort=False):
        cands = np.array(sub["candidates"].tolist(), dtype=str).reshape(len(sub), int(n))
        S = scorer.galleries(sub["probe_id"].to_numpy(str), cands, d)
        acc = metrics.one_to_n_accuracy(S, sub["target_pos"].to_numpy(np.int64))
        rows.append(dict(protocol="matching", split=split, direction=d, constraint=f"N={n}", n=len(sub)))
        rows[-1].update(metric="accuracy", value=float(acc))
    return rows


def _retrieval(retrieval, scorer, identity: dict, ks) -> list[dict]:
    rows = []
    for (split, d), sub in retrieval.groupby(["split", "direction"], sort=False):
        p = sub.loc[sub["role"] == "probe", "item_id"].to_numpy(str)
        c = sub.loc[sub["role"] == "candidate", "item_id"].to_numpy(str)
        if not p.size or not c.size:
            raise ValueError(f"retrieval list {split}/{d} has {p.size} probes and {c.size} candidates")
        ident = pd.Series(identity, dtype=object)
        ip, ic = ident.reindex(p), ident.reindex(c)
        missing = pd.concat([pd.Series(p)[ip.isna().to_numpy()], pd.Series(c)[ic.isna().to_numpy()]])
        if len(missing):
            raise ValueError(
                f"retrieval {split}/{d}: {len(missing)} item(s) of unknown identity, e.g. {missing[:3].tolist()}"
            )
        relevant = ip.to_numpy(str)[:, None] == ic.to_numpy(str)[None, :]
        rep = metrics.retrieval_report(scorer.matrix(p, c, d), relevant, ks=tuple(ks))
        key = dict(protocol="retrieval", split=split, direction=d, constraint="all", n=int(rep["n_probes"]))
        rows += [dict(key, metric=m, value=float(rep[m])) for m in ["map"] + [f"recall@{k}" for k in ks]]
    return rows


def evaluate_protocols(
    protocols,
    scorer,
    metadata: pd.DataFrame | None = None,
    *,
    kinds: Sequence[str] = KINDS,
    p_target: float = 0.01,
    reference: bool = False,
    score_range: tuple[float, float] | None = (-1.0, 1.0),
    ks: Sequence[int] = (1, 5, 10),
    calibration: bool | None = None,
) -> pd.DataFrame:
    """Score every protocol of ``kinds`` held by ``protocols`` with ``scorer``.

    Args:
        protocols: :class:`ProtocolSet`, trial DataFrame, protocol folder or trial-list file.
        scorer: an :class:`EmbeddingScorer` or :class:`FunctionScorer`.
        metadata: manifest supplying identities / modalities the set lacks (labels of unlabelled
            trials, directions, retrieval relevance).
        reference: also report the FOP/PAEFF fixed-grid ``reference_eer`` / ``reference_auc``
            (``score_range`` is the range their grid spans, cosine by default; for a scorer of
            log-likelihood ratios, and with ``None``, the range of the scores themselves).
        calibration: also report ``cllr``, ``min_cllr`` and ``act_dcf`` (at ``p_target``), reading the
            scores as natural-log likelihood ratios; ``None`` = when the scorer says its scores are
            LLRs (``scorer.llr``).

    Returns:
        long table with :data:`RESULT_COLUMNS`.
    """
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown protocol kind(s) {bad}; valid: {list(KINDS)}")
    ps = as_protocol_set(protocols)
    if calibration is None:
        calibration = bool(getattr(scorer, "llr", False))
    if getattr(scorer, "llr", False):
        score_range = None
    identity, modality = _lookups(ps, metadata, scorer)
    rows: list[dict] = []
    if "verification" in kinds and len(ps.trials):
        trials = resolve_trials(ps.trials, identity, modality).reset_index(drop=True)
        for c in ("split", "constraint"):  # a list from elsewhere may lack them: shown as "-"
            trials[c] = trials[c].astype(str).replace("", "-")
        rows += _verification(trials, scorer, p_target, reference, score_range, calibration)
    if "matching" in kinds and len(ps.galleries):
        rows += _matching(ps.galleries, scorer)
    if "retrieval" in kinds and len(ps.retrieval):
        rows += _retrieval(ps.retrieval, scorer, identity, ks)
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def score_trials(protocols, scorer, metadata: pd.DataFrame | None = None) -> pd.DataFrame:
    """The verification trials of ``protocols`` with labels and directions resolved and a ``score`` column.

    The scores are those :func:`evaluate_protocols` computes (same scorer calls), for per-trial
    score files.
    """
    ps = as_protocol_set(protocols)
    if not len(ps.trials):
        return pd.DataFrame(columns=[*ps.trials.columns, "score"])
    trials = resolve_trials(ps.trials, *_lookups(ps, metadata, scorer)).reset_index(drop=True)
    scores = np.empty(len(trials), dtype=np.float64)
    for d, idx in trials.groupby("direction", sort=False).indices.items():
        sub = trials.iloc[idx]
        scores[idx] = scorer.pairs(sub["probe_id"].to_numpy(str), sub["candidate_id"].to_numpy(str), d)
    return trials.assign(score=scores)


def evaluate_embeddings(face, voice, protocols, metadata: pd.DataFrame | None = None, *, metric="cosine", **kwargs):
    """Evaluate embeddings ``face = (ids (n_f,), X (n_f, D))``, ``voice = (ids, X (n_v, D))`` on ``protocols``.

    Pairs are scored by cosine (``metric="cosine"``) or ``-L2`` (``"l2"``); other keyword arguments
    as :func:`evaluate_protocols`. Returns the long results table.
    """
    return evaluate_protocols(protocols, EmbeddingScorer(face, voice, metric), metadata, **kwargs)


def evaluate_score_fn(score_fn: Callable, protocols, metadata: pd.DataFrame | None = None, **kwargs) -> pd.DataFrame:
    """Evaluate ``score_fn(probe_ids (T,), cand_ids (T,), direction) -> (T,)`` exactly like embeddings."""
    return evaluate_protocols(protocols, FunctionScorer(score_fn), metadata, **kwargs)


def attach_labels(scores: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Give every trial of ``trials`` its score from ``scores`` (joined on probe_id, candidate_id).

    A pair scored twice with different values, a trial without a score, or a label that differs
    between the two tables raises ``ValueError``; labels the trial list lacks come from the scores.
    Returns ``trials`` with a ``score`` column; ``attrs["unused_scores"]`` counts scores no trial used.
    """
    if (scores["probe_id"] == "").any() or (scores["candidate_id"] == "").any():
        raise ValueError("the score file has no probe/candidate ids, so it cannot be joined with a trial list")
    key = ["probe_id", "candidate_id"]
    has_label = "label" in scores.columns and bool((scores["label"] >= 0).any())
    s = scores[key + ["score"] + (["label"] if has_label else [])].drop_duplicates()
    clash = s.duplicated(key, keep=False)
    if clash.any():
        raise ValueError(
            f"{int(clash.sum())} score lines give one pair different scores or labels, e.g. {s[clash].head(2).values}"
        )
    s = s.rename(columns={"label": "_file_label"})
    out = trials.drop(columns=[c for c in ("score",) if c in trials.columns]).merge(s, on=key, how="left")
    if has_label:  # labels in both: they must agree; the file fills labels the trial list lacks
        fl = out.pop("_file_label").fillna(-1).astype(np.int8).to_numpy()
        tl = out["label"].to_numpy() if "label" in out.columns else np.full(len(out), -1, dtype=np.int8)
        differ = (fl >= 0) & (tl >= 0) & (fl != tl)
        if differ.any():
            raise ValueError(
                f"{int(differ.sum())} trial(s) are labelled differently by the score file and the trial list, "
                f"e.g. {out.loc[differ, key].head(3).values.tolist()}"
            )
        out["label"] = np.where(tl >= 0, tl, fl).astype(np.int8)
    miss = out["score"].isna()
    if miss.any():
        raise ValueError(
            f"{int(miss.sum())} of {len(out)} trials have no score, e.g. {out.loc[miss, key].head(3).values}"
        )
    used = s.merge(trials[key].drop_duplicates(), on=key).shape[0]
    out.attrs["unused_scores"] = int(len(s) - used)
    return out


def label_scores(
    scores: pd.DataFrame, trials: pd.DataFrame | None = None, metadata: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The score table with every trial labelled: from the table, else ``trials`` (joined on ids), else the
    identities in ``metadata``; raises naming the count of trials left without a label."""
    t = attach_labels(scores, trials) if trials is not None else scores.copy()
    if "label" not in t.columns:
        t["label"] = -1
    n_unknown = int((t["label"] < 0).sum())
    if n_unknown:
        if metadata is None:
            raise ValueError(
                f"{n_unknown} scored trial(s) have no label: "
                "give labels in the file, a labelled trial list or a manifest"
            )
        t = resolve_trials(t, *_lookups(ProtocolSet(), metadata, None), infer_direction=False)
    return t


def evaluate_scores(
    scores: pd.DataFrame,
    trials: pd.DataFrame | None = None,
    metadata: pd.DataFrame | None = None,
    *,
    p_target: float = 0.01,
    reference: bool = False,
    score_range: tuple[float, float] = (-1.0, 1.0),
    calibration: bool = False,
) -> pd.DataFrame:
    """Verification figures from a score table (:func:`~facevoice.eval.protocols.score_files.read_scores`).

    Labels come from the table, else from ``trials`` (joined on ids), else from the identities in
    ``metadata``. Figures are grouped by split / direction / constraint where the table has them
    (empty values show as ``-``). ``calibration`` adds Cllr, min Cllr and actual DCF (scores read as
    natural-log likelihood ratios). Returns the long results table.
    """
    t = label_scores(scores, trials, metadata)
    for c in ("split", "direction", "constraint"):
        t[c] = t[c].replace("", "-") if c in t.columns else "-"
    rows = []
    for (split, d, con), idx in t.groupby(["split", "direction", "constraint"], sort=False).indices.items():
        key = dict(protocol="verification", split=split, direction=d, constraint=con)
        s, y = t["score"].to_numpy(np.float64)[idx], t["label"].to_numpy()[idx]
        rows += _verification_rows(s, y, key, p_target, reference, score_range, calibration)
    out = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    out.attrs.update(t.attrs)
    return out
