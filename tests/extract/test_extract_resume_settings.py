"""Resuming an extraction with another --shard-size / --batch-size is refused (issue 16 item 8)."""

from __future__ import annotations

import numpy as np
import pytest
from extract_helpers import write_voices

from facevoice.data.corpora.folder import prepare_folder
from facevoice.encoders import create_encoder
from facevoice.encoders.hf.common import tiny_config
from facevoice.extract import extract
from facevoice.store import EmbeddingStore


@pytest.fixture
def manifest(tmp_path):
    for k in range(3):
        write_voices(tmp_path / "data" / f"id{k}" / "voices", 2, seed=k, seconds=(0.4, 0.6))
    prepare_folder(tmp_path / "data", tmp_path / "m.parquet", split="test")
    return tmp_path / "m.parquet"


def test_other_sizes_are_refused_and_the_same_sizes_resume(manifest, tmp_path):
    enc = create_encoder("wavlm", source=tiny_config("wavlm", seed=0))
    out = tmp_path / "store"
    first = extract(manifest, enc, out, batch_size=2, shard_size=3, progress=False, rank=0, world_size=2)
    assert first.embedded > 0  # rank 0 of 2: half the shards, the rest still to do
    for kwargs, flag in (
        ({"batch_size": 5, "shard_size": 3}, "--batch-size 2"),
        ({"batch_size": 2, "shard_size": 8}, "--shard-size 3"),
    ):
        with pytest.raises(ValueError) as err:  # was accepted silently: embeddings then differed by 1.6e-7
            extract(manifest, enc, out, progress=False, **kwargs)
        assert str(out) in str(err.value) and flag in str(err.value) and "new --out" in str(err.value)
    extract(manifest, enc, out, batch_size=2, shard_size=3, progress=False)  # same sizes: resumes
    ids, X = EmbeddingStore.open(out).read_all()
    extract(manifest, enc, tmp_path / "again", batch_size=2, shard_size=3, progress=False)
    ids2, X2 = EmbeddingStore.open(tmp_path / "again").read_all()
    assert ids == ids2 and np.array_equal(X, X2)


def test_a_store_with_nothing_done_takes_new_sizes(manifest, tmp_path):
    enc = create_encoder("wavlm", source=tiny_config("wavlm", seed=0))
    out = tmp_path / "store"
    EmbeddingStore.create(out, enc.tag, enc.dim, meta={**enc.describe(), "shard_size": 4, "batch_size": 3})
    extract(manifest, enc, out, batch_size=2, shard_size=5, progress=False)
    meta = EmbeddingStore.open(out).meta["meta"]
    assert (meta["batch_size"], meta["shard_size"]) == (2, 5)
