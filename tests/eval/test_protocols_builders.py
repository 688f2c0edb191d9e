"""Protocol builders: constraints honoured, one positive per gallery, skips recorded, determinism, disjointness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facevoice.data.manifest import ManifestError
from facevoice.eval.protocols.protocol_set import ProtocolError, ProtocolSet, build_protocols
from facevoice.eval.protocols.sampling import joint_codes, sample_distinct, stable_rng
from reference.eval_engine_reference import toy_manifest


@pytest.fixture(scope="module")
def manifest():
    return toy_manifest(n_train=14, n_unseen=16, items=3, seed=3, missing_gender=2)


@pytest.fixture(scope="module")
def ps(manifest):
    return build_protocols(manifest, seed=7, n_neg=2, gallery_sizes=(2, 5, 10))


def _attr(manifest, col):
    return dict(zip(manifest["item_id"], manifest[col], strict=True))


def test_sample_distinct_rows_are_distinct_and_uniform():
    rng = stable_rng(0, "t")
    m = np.array([3, 5, 9] * 4000)
    out = sample_distinct(rng, m, 3)
    assert ((out >= 0) & (out < m[:, None])).all()
    assert all(len(set(r)) == 3 for r in out[:200])
    counts = np.bincount(out[m == 5].ravel(), minlength=5) / (3 * (m == 5).sum())
    np.testing.assert_allclose(counts, 0.2, atol=0.02)
    with pytest.raises(ValueError, match="cannot draw 3"):
        sample_distinct(rng, np.array([2]), 3)


def test_trials_structure_and_constraints(manifest, ps):
    t = ps.trials
    mod, ident = _attr(manifest, "modality"), _attr(manifest, "identity")
    split = _attr(manifest, "split")
    assert set(t["constraint"]) == {"random", "G", "N", "A", "GNA"}
    assert set(t["direction"]) == {"v2f", "f2v"} and set(t["split"]) == {"test_unseen", "test_seen"}
    for d, (pm, cm) in {"v2f": ("voice", "face"), "f2v": ("face", "voice")}.items():
        sub = t[t["direction"] == d]
        assert sub["probe_id"].map(mod).eq(pm).all() and sub["candidate_id"].map(mod).eq(cm).all()
    same = t["probe_id"].map(ident) == t["candidate_id"].map(ident)
    assert (same == (t["label"] == 1)).all()
    # items come from the trial's own split (seen-heard positives from test_seen items)
    assert (t["probe_id"].map(split) == t["split"]).all() and (t["candidate_id"].map(split) == t["split"]).all()
    # per probe and constraint: exactly one positive, n_neg=2 distinct negatives
    g = t.groupby(["split", "direction", "constraint", "probe_id"])
    assert (g["label"].sum() == 1).all() and (g.size() == 3).all()
    assert (g["candidate_id"].nunique() == 3).all()
    for con, cols in {
        "G": ["gender"],
        "N": ["nationality"],
        "A": ["age_band"],
        "GNA": ["gender", "nationality", "age_band"],
    }.items():
        neg = t[(t["constraint"] == con) & (t["label"] == 0)]
        assert len(neg) > 0
        for col in cols:
            a = _attr(manifest, col)
            assert (neg["probe_id"].map(a) == neg["candidate_id"].map(a)).all(), con
            assert (neg["probe_id"].map(a) != "").all()


def test_missing_attributes_and_impossible_constraints_are_recorded(manifest, ps):
    sk = ps.skips
    no_gender = manifest[(manifest["gender"] == "") & (manifest["split"] == "test_unseen")]
    gender_skips = sk[(sk["reason"] == "missing_gender") & (sk["split"] == "test_unseen")]
    # each gender-less probe is skipped (and recorded) for G and GNA, in its direction
    n_probe_items = len(no_gender) // 2  # per modality
    assert len(gender_skips) == 2 * 2 * n_probe_items
    assert set(gender_skips["constraint"]) == {"G", "GNA"}
    served = ps.trials[(ps.trials["constraint"] == "G")]["probe_id"]
    assert not set(no_gender["item_id"]) & set(served)
    # every probe item is either served or recorded, for every constraint
    for (split, d, con), sub in ps.trials.groupby(["split", "direction", "constraint"]):
        pm = "voice" if d == "v2f" else "face"
        all_probes = set(manifest[(manifest["split"] == split) & (manifest["modality"] == pm)]["item_id"])
        rec = sk[(sk["split"] == split) & (sk["direction"] == d) & sk["constraint"].isin([con, "*"])]
        assert set(sub["probe_id"]) | set(rec["probe_id"]) == all_probes
        assert not set(sub["probe_id"]) & set(rec["probe_id"])
    assert sum(ps.meta["skipped_probes"].values()) == len(sk)


def test_galleries_have_one_target_and_distinct_identities(manifest, ps):
    ident = _attr(manifest, "identity")
    gal = ps.galleries
    assert set(gal["n"]) == {2, 5, 10}
    for r in gal.itertuples(index=False):
        ids = [ident[c] for c in r.candidates]
        assert len(ids) == r.n and len(set(ids)) == r.n
        assert [i == ident[r.probe_id] for i in ids].count(True) == 1
        assert ids[r.target_pos] == ident[r.probe_id]
    positions = gal[gal["n"] == 5]["target_pos"]
    assert positions.nunique() == 5  # the target is not always in the same slot
    # default: one gallery per probe item (16 unseen identities x 3 items; 14 seen identities x 1)
    sizes = gal.groupby(["split", "direction", "n"]).size()
    assert (sizes.xs("test_unseen") == 48).all() and (sizes.xs("test_seen") == 14).all() and len(sizes) == 12


def test_galleries_too_few_identities_and_n_galleries(manifest):
    ps = build_protocols(
        manifest, splits=["test_seen"], seed=1, gallery_sizes=(2, 15), n_galleries=7, kinds=["matching"]
    )
    assert set(ps.galleries["n"]) == {2}
    assert (ps.galleries.groupby(["direction", "n"]).size() == 7).all()
    sk = ps.skips[ps.skips["reason"] == "too_few_identities"]
    assert set(sk["constraint"]) == {"N=15"} and len(sk) > 0


def test_retrieval_lists(manifest, ps):
    r = ps.retrieval
    for (split, d), sub in r.groupby(["split", "direction"]):
        pm, cm = ("voice", "face") if d == "v2f" else ("face", "voice")
        pool = manifest[manifest["split"] == split]
        assert set(sub.loc[sub["role"] == "probe", "item_id"]) == set(pool[pool["modality"] == pm]["item_id"])
        assert set(sub.loc[sub["role"] == "candidate", "item_id"]) == set(pool[pool["modality"] == cm]["item_id"])


def test_determinism_per_seed(manifest, ps):
    again = build_protocols(manifest, seed=7, n_neg=2, gallery_sizes=(2, 5, 10))
    pd.testing.assert_frame_equal(ps.trials, again.trials)
    pd.testing.assert_frame_equal(ps.galleries, again.galleries)
    other = build_protocols(manifest, seed=8, n_neg=2, gallery_sizes=(2, 5, 10))
    assert not ps.trials["candidate_id"].equals(other.trials["candidate_id"])
    # a subset of constraints reproduces the same lists for the constraints built
    only_g = build_protocols(manifest, seed=7, n_neg=2, constraints=["G"], kinds=["verification"])
    pd.testing.assert_frame_equal(
        only_g.trials.reset_index(drop=True), ps.trials[ps.trials["constraint"] == "G"].reset_index(drop=True)
    )


def test_identity_disjointness_is_checked(manifest, ps):
    checks = ps.meta["identity_checks"]
    assert checks["test_unseen"]["shared_with_train"] == 0 and checks["test_seen"]["shared_with_train"] == 14
    unseen = set(manifest.loc[manifest["split"] == "test_unseen", "identity"])
    train = set(manifest.loc[manifest["split"] == "train", "identity"])
    assert not unseen & train
    bad = manifest.copy()
    bad.loc[bad["identity"] == "id000", "split"] = "test_unseen"
    bad = pd.concat([bad, manifest[manifest["identity"] == "id000"].assign(item_id=lambda d: d["item_id"] + "x")])
    with pytest.raises(ManifestError, match="identit"):
        build_protocols(bad)
    # a language subset of the generic "test" split must not share identities with training either
    lang = toy_manifest(n_train=6, n_unseen=6, items=2, languages=("en", "ur"))
    lang.loc[(lang["split"] == "test_seen") & (lang["modality"] == "voice"), "language"] = "ur"
    lang.loc[lang["split"] == "test_seen", "split"] = "test"
    with pytest.raises(ProtocolError, match="shares 6 identities with train"):
        build_protocols(lang, splits=["test"], kinds=["retrieval"])


def test_heard_unheard_language_subsets():
    m = toy_manifest(n_train=8, n_unseen=10, items=4, languages=("en", "ur"))
    ps = build_protocols(m, splits=["test_unseen"], seed=0, gallery_sizes=(2,))
    assert ps.meta["languages"]["heard_languages"] == ["en"]
    assert set(ps.trials["split"]) == {"test_unseen", "test_unseen:heard", "test_unseen:unheard"}
    lang = dict(zip(m["item_id"], m["language"], strict=True))
    for name, want in (("test_unseen:heard", "en"), ("test_unseen:unheard", "ur")):
        t = ps.trials[ps.trials["split"] == name]
        voice = np.where(t["direction"] == "v2f", t["probe_id"], t["candidate_id"])
        assert {lang[v] for v in voice} == {want}
        assert ps.meta["identity_checks"][name]["shared_with_train"] == 0
    explicit = build_protocols(m, splits=["test_unseen"], seed=0, gallery_sizes=(2,), heard_languages="en")
    pd.testing.assert_frame_equal(explicit.trials, ps.trials)
    flipped = build_protocols(m, splits=["test_unseen"], heard_languages=["ur"], kinds=["retrieval"])
    probes = flipped.retrieval[
        (flipped.retrieval["split"] == "test_unseen:heard") & (flipped.retrieval["role"] == "probe")
    ]
    assert {lang[v] for v in probes.loc[probes["item_id"].str.contains("voice"), "item_id"]} == {"ur"}
    none = build_protocols(m, splits=["test_unseen"], heard_languages=None, kinds=["retrieval"])
    assert set(none.retrieval["split"]) == {"test_unseen"}


def test_save_load_roundtrip(tmp_path, ps):
    ps.save(tmp_path / "p")
    back = ProtocolSet.load(tmp_path / "p")
    pd.testing.assert_frame_equal(back.trials, ps.trials, check_dtype=False)
    assert back.galleries["candidates"].tolist() == ps.galleries["candidates"].tolist()
    assert back.galleries["target_pos"].tolist() == ps.galleries["target_pos"].tolist()
    pd.testing.assert_frame_equal(back.retrieval, ps.retrieval, check_dtype=False)
    assert len(back.skips) == len(ps.skips) and back.meta["seed"] == 7
    assert back.summary()["count"].sum() == ps.summary()["count"].sum()


def test_bad_arguments(manifest):
    with pytest.raises(ValueError, match="unknown constraint"):
        build_protocols(manifest, constraints=["X"])
    with pytest.raises(ValueError, match="unknown direction"):
        build_protocols(manifest, directions=["v2v"])
    with pytest.raises(ProtocolError, match="no items"):
        build_protocols(manifest, splits=["val"])
    with pytest.raises(ValueError, match="seed"):
        build_protocols(manifest, seed=-1)


def test_joint_codes_compare_whole_values():
    # two attributes of three items in each set; joining the texts would make item 0 of both collide
    first = (np.array(["a\x1fb", "x", ""]), np.array(["a", "x", "a\x1fb"]))
    second = (np.array(["c", "y", ""]), np.array(["b\x1fc", "y", "c"]))
    ca, cb = joint_codes(first, second)
    assert ca[0] != cb[0] and ca[1] == cb[1] and ca[0] == cb[2] and ca[2] not in (cb[0], cb[1])


def test_split_with_one_modality_is_recorded_not_built():
    m = toy_manifest(n_train=4, n_unseen=5, items=2)
    m = m[~((m["split"] == "test_unseen") & (m["modality"] == "face"))]
    ps = build_protocols(m, splits=["test_unseen"])
    assert len(ps.trials) == 0 and len(ps.galleries) == 0 and len(ps.retrieval) == 0
    reasons = ps.skips.groupby(["protocol", "reason"]).size().to_dict()
    assert reasons == {
        ("matching", "no_positive"): 10,
        ("retrieval", "no_relevant"): 10,
        ("verification", "no_positive"): 10,
    }
