"""The simulator's ordering: oracle clearly better than the CCA baseline, CCA clearly better than chance.

On small-but-representative versions of both presets (``vox1`` with 300 identities split in the
preset's proportions, 512-d faces; ``mavceleb`` as is, 512-d faces) every protocol row of
``build_protocols`` is checked: verification (split x direction x constraint, heard / unheard
splits for ``mavceleb``), 1:N for N = 2 and 10, retrieval mAP. The oracle scores each trial list
with its own constraint. CCA (:class:`facevoice.backends.cca.CCABaseline`, automatic small-sample
rule) is fitted on the training split (``mavceleb``: English training items only, as in MAV-Celeb's
heard / unheard protocol) and scored through ``evaluate_embeddings``. Chance: EER and AUC 0.5, 1:N
accuracy 1/N, mAP of a random ranking (computed by scoring the same lists with random scores).
Margins were chosen from seeds 0-2 (docs/simceleb.md §5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facevoice.backends.cca import CCABaseline
from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.eval.scoring.engine import evaluate_embeddings, evaluate_score_fn
from facevoice.simceleb.oracle import oracle_score_fn
from facevoice.simceleb.simulate import simulate

SMALL = {
    "vox1": dict(n_identities=300, n_train=216, n_val=24, d_face=512),
    "mavceleb": dict(d_face=512),
}
# required gaps, in the metric's own units (all rates are fractions)
# oracle vs CCA: ahead by ORACLE_GAP, or (near the ceiling) with at most half of CCA's remaining error
ORACLE_GAP = {"eer": 0.08, "auc": 0.08, "accuracy": 0.08, "map": 0.08}
CHANCE_GAP = {"eer": 0.03, "auc": 0.03, "accuracy": 0.03, "map": 0.03}
KEY = ["protocol", "split", "direction", "constraint", "metric"]


def ordering_table(preset: str, seed: int = 0) -> pd.DataFrame:
    """Oracle, CCA and chance figures for every protocol row of a small ``preset`` simulation.

    Returns a frame indexed by :data:`KEY` with columns ``oracle``, ``cca``, ``chance``
    (metrics: eer, auc, accuracy, map).
    """
    sim = simulate(preset, seed=seed, **SMALL[preset])
    b, man = sim.bundle, sim.bundle.manifest
    heard = ("english",) if preset == "mavceleb" else None
    ps = build_protocols(man, seed=seed, gallery_sizes=(2, 10), heard_languages=heard)
    (dff, Xf), (dfv, Xv) = b.select("face", "train"), b.select("voice", "train")
    if heard:  # MAV-Celeb protocol: train on the heard language only
        fk, vk = dff["language"].isin(heard).to_numpy(), dfv["language"].isin(heard).to_numpy()
        dff, Xf, dfv, Xv = dff[fk], Xf[fk], dfv[vk], Xv[vk]
    cca = CCABaseline(seed=seed).fit(Xf, dff["identity"], Xv, dfv["identity"])
    (af, Ff), (av, Fv) = b.select("face"), b.select("voice")
    face, voice = (af["item_id"], cca.transform(Ff, "face")), (av["item_id"], cca.transform(Fv, "voice"))
    cca_res = evaluate_embeddings(face, voice, ps, man)

    parts = [evaluate_score_fn(oracle_score_fn(sim), ps, man, kinds=("matching", "retrieval"))]
    for con, trials in ps.trials.groupby("constraint", sort=False):
        parts.append(evaluate_score_fn(oracle_score_fn(sim, constraint=con), trials, man, kinds=("verification",)))
    oracle_res = pd.concat(parts, ignore_index=True)

    rng = np.random.default_rng(seed)
    random_fn = lambda p, c, d: rng.standard_normal(len(p))  # noqa: E731
    maps = [evaluate_score_fn(random_fn, ps, man, kinds=("retrieval",)) for _ in range(5)]
    chance_map = pd.concat(maps).groupby(KEY)["value"].mean()

    tab = pd.concat(
        {n: r.set_index(KEY)["value"] for n, r in (("oracle", oracle_res), ("cca", cca_res))}, axis=1, join="inner"
    )
    tab = tab[tab.index.get_level_values("metric").isin(["eer", "auc", "accuracy", "map"])].copy()
    chance = pd.Series(0.5, index=tab.index)
    for key in tab.index:
        if key[-1] == "accuracy":
            chance[key] = 1.0 / int(key[3].split("=")[1])
        elif key[-1] == "map":
            chance[key] = chance_map[key]
    tab["chance"] = chance
    return tab


def _violations(tab: pd.DataFrame) -> list[str]:
    bad = []
    for key, row in tab.iterrows():
        m = key[-1]
        sign = -1.0 if m == "eer" else 1.0  # orient so that larger = better
        o, c, ch = sign * row["oracle"], sign * row["cca"], sign * row["chance"]
        best = 0.0 if m == "eer" else 1.0
        headroom = abs(best - row["cca"])
        if not o >= c + min(ORACLE_GAP[m], 0.5 * headroom):
            bad.append(f"oracle not {ORACLE_GAP[m]} better than CCA: {key} {row.to_dict()}")
        if not c >= ch + CHANCE_GAP[m]:
            bad.append(f"CCA not {CHANCE_GAP[m]} better than chance: {key} {row.to_dict()}")
    return bad


@pytest.mark.parametrize("preset", ["vox1", "mavceleb"])
def test_oracle_beats_cca_beats_chance_on_every_protocol(preset):
    tab = ordering_table(preset)
    rows = tab.reset_index()
    # every protocol is present: 5 constraints per verification split and direction, 1:2, 1:10, retrieval
    splits = {
        "vox1": {"test_unseen", "test_seen"},
        "mavceleb": {"test_unseen"} | {"test_unseen:heard", "test_unseen:unheard"},
    }
    assert set(rows["split"]) == splits[preset]
    ver = rows[(rows["protocol"] == "verification") & (rows["metric"] == "eer")]
    assert len(ver) == len(splits[preset]) * 2 * 5
    assert (rows["protocol"] == "matching").sum() == len(splits[preset]) * 2 * 2
    assert (rows["protocol"] == "retrieval").sum() == len(splits[preset]) * 2
    assert _violations(tab) == []


def test_violations_are_reported():
    idx = pd.MultiIndex.from_tuples(
        [("verification", "s", "v2f", "random", "eer"), ("matching", "s", "v2f", "N=2", "accuracy")], names=KEY
    )
    tab = pd.DataFrame({"oracle": [0.2, 0.9], "cca": [0.48, 0.86], "chance": [0.5, 0.5]}, index=idx)
    bad = _violations(tab)
    assert len(bad) == 2 and "better than chance" in bad[0] and "better than CCA" in bad[1]
