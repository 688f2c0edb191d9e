"""data.train_languages: the MAV-Celeb protocol (train on one language, test on heard and unheard)."""

from __future__ import annotations

import pytest

from facevoice.eval.protocols.protocol_set import build_protocols
from facevoice.pipelines.data_sources import load_data


def test_training_on_one_language_gives_heard_and_unheard_protocols():
    section = {
        "source": "simulated",
        "preset": "mavceleb",
        "seed": 1,
        "options": {"d_face": 64, "d_voice": 48, "map_hidden": 40},
    }
    full, _ = load_data(section)
    english, oracle = load_data({**section, "train_languages": ["english"]})
    m = english.manifest
    assert set(m.loc[m["split"].isin(["train", "val"]), "language"]) == {"english"}
    test = m[m["split"] == "test_unseen"]
    assert set(test["language"]) == {"english", "urdu"}  # every test item stays
    assert (
        test["item_id"].to_numpy() == full.manifest.loc[full.manifest["split"] == "test_unseen", "item_id"].to_numpy()
    ).all()
    for mod in ("face", "voice"):  # embeddings follow the manifest rows
        rows = english.rows(mod)["item_id"]
        lookup = full.lookup(mod)
        assert (english.embeddings[mod] == full.embeddings[mod][[lookup[i] for i in rows]]).all()
    ps = build_protocols(m, seed=0, kinds=["verification"], constraints=["random"])
    assert {"test_unseen:heard", "test_unseen:unheard"} <= set(ps.trials["split"])
    assert oracle is not None
    with pytest.raises(ValueError, match="klingon"):
        load_data({**section, "train_languages": ["klingon"]})
