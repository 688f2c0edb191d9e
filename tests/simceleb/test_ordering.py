"""The simulator's ordering: oracle clearly better than the CCA baseline, CCA clearly better than chance.

On small-but-representative versions of both presets (``vox1`` with 300 identities split in the
preset's proportions, 512-d faces; ``mavceleb`` as is, 512-d faces) every protocol row of
``build_protocols`` is checked: verification (split x direction x constraint, heard / unheard
splits for ``mavceleb``), 1:N for N = 2 and 10, retrieval mAP. The oracle scores each trial list
with its own constraint. CCA (:class:`facevoice.backends.cca.CCABaseline`, automatic small-sample
rule) is fitted on the training split (``mavceleb``: English training items only, as in MAV-Celeb's
heard / unheard protocol) and scored through ``evaluate_embeddings``.

Chance and the noise of each row come from the row itself: the same lists are scored by
``N_NULL`` independent random scorers, whose mean is chance and whose standard deviation ``sd0`` is the
row's sampling noise under the null (a 480-probe verification list has sd0 ≈ 0.02 AUC; a 150-probe
heard/unheard list ≈ 0.035). Required gaps, so that the ordering cannot be an accident of the lists:

* CCA beats chance by ``Z_NULL`` (2) null standard deviations on every row: a baseline at chance passes
  one row with probability ~2.3 % (one-sided), so with 28-42 rows per preset a simulator whose
  baseline sits at chance fails this test with certainty, while a real but weak lead on a small list
  (MAV-Celeb unheard 1:10 v2f, 63 probes: CCA 19 % vs chance 11 %, 2.6 sd0) still passes;
* the oracle beats CCA by the larger of the same 2 sd0 and a design floor (``ORACLE_FLOOR`` = 8 points
  of the metric, or half of CCA's remaining error near the ceiling), the headroom the simulator must
  leave for methods between the baseline and the Bayes optimum.
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
ORACLE_FLOOR = 0.08  # metric units (fractions): headroom left between the baseline and the optimum
Z_NULL = 2.0  # required gaps in null standard deviations of the row
N_NULL = 12  # random scorers per row (chance mean and null sd)
KEY = ["protocol", "split", "direction", "constraint", "metric"]


def ordering_table(preset: str, seed: int = 0) -> pd.DataFrame:
    """Oracle, CCA and chance figures for every protocol row of a small ``preset`` simulation.

    Returns a frame indexed by :data:`KEY` with columns ``oracle``, ``cca``, ``chance`` (mean of the random
    scorers) and ``null_sd`` (their standard deviation); metrics eer, auc, accuracy, map.
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
    null = pd.concat([evaluate_score_fn(random_fn, ps, man).assign(rep=r) for r in range(N_NULL)])
    null_stats = null.groupby(KEY)["value"].agg(["mean", "std"])

    tab = pd.concat(
        {n: r.set_index(KEY)["value"] for n, r in (("oracle", oracle_res), ("cca", cca_res))}, axis=1, join="inner"
    )
    tab = tab[tab.index.get_level_values("metric").isin(["eer", "auc", "accuracy", "map"])].copy()
    tab["chance"] = null_stats["mean"].reindex(tab.index)
    tab["null_sd"] = null_stats["std"].reindex(tab.index)
    return tab


def _violations(tab: pd.DataFrame) -> list[str]:
    bad = []
    for key, row in tab.iterrows():
        m = key[-1]
        sign = -1.0 if m == "eer" else 1.0  # orient so that larger = better
        o, c, ch = sign * row["oracle"], sign * row["cca"], sign * row["chance"]
        noise = Z_NULL * row["null_sd"]
        headroom = abs((0.0 if m == "eer" else 1.0) - row["cca"])
        need = max(min(ORACLE_FLOOR, 0.5 * headroom), noise)
        if not o >= c + need:
            bad.append(f"oracle not {need:.3f} better than CCA: {key} {row.to_dict()}")
        if not c >= ch + noise:
            bad.append(f"CCA not {noise:.3f} ({Z_NULL:g} null sd) better than chance: {key} {row.to_dict()}")
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
    tab = pd.DataFrame(
        {"oracle": [0.2, 0.9], "cca": [0.48, 0.86], "chance": [0.5, 0.5], "null_sd": [0.02, 0.02]}, index=idx
    )
    bad = _violations(tab)
    assert len(bad) == 2 and "better than chance" in bad[0] and "better than CCA" in bad[1]


def test_null_sd_matches_the_analytic_auc_noise():
    """The random scorers' spread on a verification row is the AUC's null standard error
    sqrt((n1 + n0 + 1) / (12 n1 n0)) (Mann-Whitney), within its own sampling error."""
    tab = ordering_table("mavceleb").reset_index()
    row = tab[(tab["protocol"] == "verification") & (tab["metric"] == "auc")].iloc[0]
    sim = simulate("mavceleb", seed=0, **SMALL["mavceleb"])
    ps = build_protocols(sim.bundle.manifest, seed=0, gallery_sizes=(2, 10), heard_languages=("english",))
    t = ps.trials
    sel = t[
        (t["split"] == row["split"]) & (t["direction"] == row["direction"]) & (t["constraint"] == row["constraint"])
    ]
    n1, n0 = int(sel["label"].sum()), int((sel["label"] == 0).sum())
    se = np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))
    assert 0.5 * se < row["null_sd"] < 1.6 * se
