"""The bundle step (issue 16 items 1 and 2): manifest + stores -> a bundle of the embedded items, the rest recorded."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.corpora.folder import write_prepare_skips
from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.pipelines.bundle import make_bundle
from facevoice.pipelines.run import train
from facevoice.store import EmbeddingStore
from facevoice.store.embedding_store import StoreError


@pytest.fixture
def extracted(tmp_path):
    """A manifest of 6 people x 4 items per modality; stores holding all but a few items (skipped with reasons)."""
    rng = np.random.default_rng(0)
    rows = []
    for k in range(6):
        for m in ("face", "voice"):
            for j in range(4):
                split = "test_unseen" if k >= 4 else "train"
                rows.append({"item_id": f"{m}:p{k}/{j}", "identity": f"p{k}", "modality": m, "split": split,
                             "path": f"/data/p{k}/{m}s/{j}", "gender": "mf"[k % 2]})  # fmt: skip
    manifest = make_manifest(pd.DataFrame(rows))
    write_manifest(manifest, tmp_path / "m.parquet")
    write_prepare_skips(
        tmp_path / "m.parquet", [{"path": "/data/notes.txt", "reason": "outside_layout", "detail": "x"}]
    )
    skipped = {"voice:p0/1": "silent", "voice:p0/2": "truncated", "face:p3/0": "no_face"}
    for m, dim in (("face", 5), ("voice", 3)):
        store = EmbeddingStore.create(
            tmp_path / m, f"{m}-enc:a=1#abc", dim, meta={"modality": m, "encoder": f"{m}-enc"}
        )
        ids = [i for i in manifest.loc[manifest["modality"] == m, "item_id"] if i not in skipped]
        store.write_shard(ids, rng.normal(size=(len(ids), dim)).astype(np.float32))
        store.add_skips(
            [
                {"item_id": i, "path": "", "reason": r, "detail": f"{i} {r}"}
                for i, r in skipped.items()
                if i.startswith(m)
            ]
        )
    return tmp_path, manifest, skipped


def test_skipped_items_stay_out_of_the_bundle_with_a_record(extracted):
    root, manifest, skipped = extracted
    with pytest.raises(StoreError, match="bundle step"):  # what `train --data` met before: "3 id(s) not in store"
        EmbeddingBundle.load(root, manifest=root / "m.parquet")
    report = make_bundle(root / "m.parquet", root / "face", root / "voice", root / "bundle")
    bundle = EmbeddingBundle.load(root / "bundle")
    assert len(bundle.manifest) == len(manifest) - 3 and not set(skipped) & set(bundle.manifest["item_id"])
    assert bundle.tags == {"face": "face-enc:a=1#abc", "voice": "voice-enc:a=1#abc"}
    source = EmbeddingStore.open(root / "voice")
    ids = bundle.rows("voice")["item_id"].tolist()
    assert np.array_equal(bundle.embeddings["voice"], source.read(ids))
    assert EmbeddingStore.open(root / "bundle" / "face").meta["meta"]["encoder"] == "face-enc"
    table = pd.read_csv(root / "bundle" / "skipped.csv", keep_default_na=False)
    assert dict(zip(table["item_id"], table["reason"], strict=True)) == {"": "outside_layout", **skipped}
    assert set(table["stage"]) == {"prepare", "extract"}
    info = json.loads((root / "bundle" / "bundle.json").read_text())
    assert info["items"] == {"face": 23, "voice": 22} and info["skipped"]["extract:silent"] == 1
    assert report.summary.set_index("split").loc["train", "identities with both"] == 4
    run = train(
        {"method": {"name": "cca", "n_pca": 3}, "train": {"progress": False}}, bundle=bundle, run_dir=root / "run"
    )
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


def test_unfinished_extraction_and_wrong_stores_are_refused(extracted):
    root, manifest, _ = extracted
    store = EmbeddingStore.open(root / "voice")
    pending = manifest[(manifest["modality"] == "voice")].iloc[-1]["item_id"]
    (root / "m2").mkdir()
    more = pd.concat([manifest, manifest.iloc[[-1]].assign(item_id="voice:p5/9")], ignore_index=True)
    write_manifest(more, root / "m2" / "manifest.parquet")
    with pytest.raises(ValueError, match=r"1 voice item\(s\).*neither embedded nor skipped.*'voice:p5/9'"):
        make_bundle(root / "m2" / "manifest.parquet", root / "face", root / "voice", root / "b")
    report = make_bundle(root / "m2", root / "face", root / "voice", root / "b", allow_pending=True)
    assert "not_extracted" in set(report.skipped["reason"]) and pending in set(store.done_ids())
    with pytest.raises(ValueError, match="holds voice embeddings.*given as the face store"):
        make_bundle(root / "m.parquet", root / "voice", root / "voice", root / "c")
    (root / "other").mkdir()
    (root / "other" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a bundle"):
        make_bundle(root / "m.parquet", root / "face", root / "voice", root / "other")
    make_bundle(root / "m.parquet", root / "face", root / "voice", root / "b")  # an old bundle is replaced
    assert len(EmbeddingBundle.load(root / "b").manifest) == len(manifest) - 3
    assert not list(root.glob(".b.*"))  # no temporary folder left behind
