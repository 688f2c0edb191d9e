"""simceleb configuration: embedded VoxCeleb1 table, presets, validation, serialisation."""

from __future__ import annotations

import pandas as pd
import pytest

from facevoice.simceleb.presets import (
    AGE_PROBS,
    PRESETS,
    VOX1_DEMOGRAPHICS,
    SimConfig,
    resolve_config,
)


def test_embedded_vox1_table_matches_meta_csv(shared_data):
    meta = pd.read_csv(shared_data / "voxceleb1" / "vox1_meta.csv", sep="\t", dtype=str, keep_default_na=False)
    counts = meta.groupby(["Gender", "Nationality"]).size()
    expected = {(g, n): int(c) for (g, n), c in counts.items()}
    embedded = {(g, n): c for g, n, c in VOX1_DEMOGRAPHICS}
    assert len(embedded) == len(VOX1_DEMOGRAPHICS)  # no duplicated rows
    assert embedded == expected
    assert sum(embedded.values()) == len(meta) == PRESETS["vox1"].n_identities


def test_presets_describe_the_benchmarks():
    vox = PRESETS["vox1"].validate()
    assert (vox.n_train, vox.n_val, vox.n_test_unseen) == (901, 100, 250)
    assert (vox.d_face, vox.d_voice) == (4096, 512) and vox.test_seen_videos >= 1
    mav = PRESETS["mavceleb"].validate()
    assert mav.n_identities == 70 and mav.total_demographics() == 70
    assert {g: c for g, _, c in mav.demographics} == {"m": 43, "f": 27}
    assert mav.languages == ("english", "urdu") and mav.test_seen_videos == 0
    assert mav.language_offset_std > 0 and mav.language_interaction_std > 0
    assert abs(sum(AGE_PROBS) - 1) < 1e-12


def test_config_roundtrip_and_digest():
    cfg = resolve_config("mavceleb", seed=3, k_shared=5)
    back = SimConfig.from_dict(cfg.to_dict())
    assert back == cfg and back.digest() == cfg.digest()
    assert resolve_config("mavceleb", seed=4, k_shared=5).digest() != cfg.digest()
    with pytest.raises(ValueError, match="unknown SimConfig field"):
        SimConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"n_train": 1300}, "identity split"),
        ({"videos_per_language": (4, 4)}, "languages"),
        ({"test_seen_videos": 4}, "test_seen_videos"),
        ({"map_hidden": 8}, "map must widen"),
        ({"d_voice": 128, "map_hidden": 256}, "map must widen"),
        ({"age_probs": (0.5, 0.5, 0.0, 0.0, 0.1)}, "age_probs"),
        ({"shared_std": -1.0}, "shared_std"),
        ({"map_slope": 0.0}, "injective"),
    ],
)
def test_invalid_configs_name_the_problem(override, message):
    with pytest.raises(ValueError, match=message):
        resolve_config("vox1", **override)


def test_resolve_config_rejects_unknown_names():
    with pytest.raises(KeyError, match="valid presets"):
        resolve_config("voxceleb9")
    with pytest.raises(ValueError, match="unknown SimConfig override"):
        resolve_config("vox1", n_people=3)
    with pytest.raises(TypeError):
        resolve_config(42)
