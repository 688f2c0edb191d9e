"""Input cache (skips, resume, encoder tag) and paired training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from finetune_media import TINY_AUDIO, TINY_VISION, write_media

from facevoice.data.manifest import make_manifest
from facevoice.encoders import create_encoder
from facevoice.finetune.cache import InputCacheError, build_input_cache
from facevoice.finetune.data import PairDataset, plan_pairs


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ftdata")
    df = make_manifest(write_media(root / "media", n_ids=4, per_id=3, seconds=0.3))
    (root / "media" / "id0_f0.png").write_bytes(b"not an image")  # unreadable
    (root / "media" / "id1_v1.wav").unlink()  # missing
    voice = create_encoder("wavlm", source=TINY_AUDIO)
    face = create_encoder("siglip", source=TINY_VISION, pooling="mean", detect_faces=False)
    return root, df, voice, face


def test_cache_records_skips_and_resumes(media) -> None:
    root, df, voice, face = media
    v = build_input_cache(root / "c" / "voice", voice, df[df.modality == "voice"])
    f = build_input_cache(root / "c" / "face", face, df[df.modality == "face"], frame_processor=face.backbone.processor)
    assert len(v) == 11 and len(f) == 11
    assert v.skips[["item_id", "reason"]].values.tolist() == [["v1_1", "missing"]]
    assert f.skips[["item_id", "reason"]].values.tolist() == [["f0_0", "unreadable"]]
    wave = v.get("v2_0")[0]
    assert wave.dtype == np.float32 and wave.shape == (int(0.3 * 16000),)
    np.testing.assert_array_equal(wave, voice.load(df.set_index("item_id").loc["v2_0", "path"]).parts[0])
    assert f.get("f3_2")[0].shape == (32, 32, 3) and f.get("f3_2")[0].dtype == np.uint8
    again = build_input_cache(root / "c" / "voice", voice, df[df.modality == "voice"])
    assert len(again) == 11 and len(again.skips) == 1
    assert (root / "c" / "voice" / "data.bin").stat().st_size == 11 * wave.nbytes  # nothing loaded twice
    with pytest.raises(KeyError, match="not cached"):
        v.get("v1_1")
    other = create_encoder("wavlm", source={**TINY_AUDIO, "seed": 1})
    with pytest.raises(InputCacheError, match="built for encoder"):
        build_input_cache(root / "c" / "voice", other, df[df.modality == "voice"])


def test_pairs_are_same_identity_and_reproducible(media) -> None:
    root, df, voice, face = media
    v = build_input_cache(root / "c" / "voice", voice, df[df.modality == "voice"])
    f = build_input_cache(root / "c" / "face", face, df[df.modality == "face"], frame_processor=face.backbone.processor)
    plan = plan_pairs(df, "train", v, f)
    assert plan.identities == ["id0", "id1"] and plan.dropped == []
    ds = PairDataset(plan, v, f, crop_samples=1000, seed=3)
    ident = dict(zip(df.item_id, df.identity, strict=True))
    assert len(ds) == 5  # id0: 3 voices, id1: 2 (one missing)
    ds.set_epoch(2)
    first = [ds[i] for i in range(len(ds))]
    for (vid, fid, _, label), item in zip(ds.pairs, first, strict=True):
        assert ident[vid] == ident[fid] == plan.identities[label] and item["label"] == label
        assert item["wave"].shape == (1000,)
    ds.set_epoch(1)
    ds.set_epoch(2)
    assert all(np.array_equal(a["wave"], ds[i]["wave"]) for i, a in enumerate(first))
    pairs_2 = list(ds.pairs)
    ds.set_epoch(3)
    assert ds.pairs != pairs_2  # a new draw every epoch


def test_plan_pairs_reports_single_modality_identities(media, tmp_path: Path) -> None:
    root, df, voice, face = media
    v = build_input_cache(root / "c" / "voice", voice, df[df.modality == "voice"])
    f = build_input_cache(root / "c" / "face", face, df[df.modality == "face"], frame_processor=face.backbone.processor)
    no_face = df[~((df.identity == "id1") & (df.modality == "face"))]
    plan = plan_pairs(no_face, "train", v, f)
    assert plan.identities == ["id0"] and plan.dropped == ["id1"]
    with pytest.raises(ValueError, match="no identity"):
        plan_pairs(df[df.modality == "voice"], "train", v, f)


def test_a_build_killed_mid_write_leaves_a_cache_the_next_build_completes(media) -> None:
    """A kill inside a build leaves a partial block at the end of data.bin (and no index row for it). The
    next build must cut it off: appending after it would shift every new item's offset (a face frame
    read back from the wrong bytes)."""
    root, df, voice, face = media
    faces = df[(df.modality == "face") & (df.item_id != "f0_0")]  # f0_0 is unreadable
    folder = root / "torn" / "face"
    proc = face.backbone.processor
    first = build_input_cache(folder, face, faces.iloc[:4], frame_processor=proc)
    frame_bytes = first.get(faces.item_id.iloc[0])[0].nbytes
    with open(folder / "data.bin", "ab") as fh:  # what a build killed halfway through its next frame leaves
        fh.write(b"\x07" * (frame_bytes // 2 + 3))
    full = build_input_cache(folder, face, faces, frame_processor=proc)
    assert len(full) == len(faces)
    for item_id in faces.item_id:
        reference = build_input_cache(
            root / "torn" / "ref" / item_id, face, faces[faces.item_id == item_id], frame_processor=proc
        )
        np.testing.assert_array_equal(full.get(item_id)[0], reference.get(item_id)[0], err_msg=item_id)
    assert (folder / "data.bin").stat().st_size == len(faces) * frame_bytes  # the torn bytes are gone
