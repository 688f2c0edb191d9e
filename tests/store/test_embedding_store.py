import numpy as np
import pytest

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.store import EmbeddingStore, StoreError


def test_shards_roundtrip_resume_and_order(tmp_path):
    rng = np.random.default_rng(0)
    store = EmbeddingStore.create(tmp_path / "s", "enc-a@abc", 4, meta={"weights": "abc"})
    X1, X2 = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")
    store.write_shard(["a", "b", "c"], X1)
    store.write_shard(["d", "e"], X2, name="rank1-000")
    again = EmbeddingStore.open(tmp_path / "s", encoder_tag="enc-a@abc")
    assert again.done_ids() == {"a", "b", "c", "d", "e"} and len(again) == 5
    np.testing.assert_array_equal(again.read(["e", "a", "c"]), np.stack([X2[1], X1[0], X1[2]]))
    ids, X = again.read_all()
    assert ids == ["a", "b", "c", "d", "e"] and X.shape == (5, 4)
    assert again.meta["meta"]["weights"] == "abc"
    # a stray temporary file (process killed mid-write) is ignored
    (tmp_path / "s" / "shards" / ".shard-x.npz.123.tmp").write_bytes(b"partial")
    again.refresh()
    assert len(again) == 5


def test_refuses_mixing_and_bad_input(tmp_path):
    store = EmbeddingStore.create(tmp_path / "s", "enc-a", 2)
    store.write_shard(["a"], np.zeros((1, 2)))
    with pytest.raises(StoreError, match="refusing to add 'enc-b'"):
        EmbeddingStore.create(tmp_path / "s", "enc-b", 2)
    with pytest.raises(StoreError, match="expected 'enc-b'"):
        EmbeddingStore.open(tmp_path / "s", encoder_tag="enc-b")
    with pytest.raises(StoreError, match="already stored"):
        store.write_shard(["a"], np.zeros((1, 2)))
    with pytest.raises(StoreError, match=r"\(2, 2\)"):
        store.write_shard(["x", "y"], np.zeros((2, 3)))
    with pytest.raises(StoreError, match="non-finite"):
        store.write_shard(["z"], np.array([[np.nan, 0.0]]))
    with pytest.raises(StoreError, match="not in store"):
        store.read(["a", "missing"])
    with pytest.raises(StoreError, match="not an embedding store"):
        EmbeddingStore.open(tmp_path / "nothing")
    bad = tmp_path / "s" / "shards" / "broken.npz"
    bad.write_bytes(b"garbage")
    store.refresh()
    with pytest.raises(StoreError, match="broken.npz"):
        store.done_ids()


def test_skips_are_recorded(tmp_path):
    store = EmbeddingStore.create(tmp_path / "s", "enc", 2)
    assert store.add_skips([{"item_id": "x", "path": "/a.wav", "reason": "silent", "detail": "rms=0"}]) == 1
    store.add_skips([{"item_id": "y", "reason": "unreadable"}], name="rank1")
    assert [r["item_id"] for r in store.skips()] == ["y", "x"] or len(store.skips()) == 2
    with pytest.raises(StoreError, match="item_id and reason"):
        store.add_skips([{"item_id": "z"}])


def test_bundle_save_load_select(tmp_path):
    recs = [
        dict(item_id=f"{i}-{m}", identity=str(i), modality=m, split="train" if i < 3 else "test_unseen")
        for i in range(5)
        for m in ("face", "voice")
    ]
    df = make_manifest(recs)
    rng = np.random.default_rng(1)
    b = EmbeddingBundle(
        df, {"face": rng.normal(size=(5, 6)), "voice": rng.normal(size=(5, 3))}, {"face": "f", "voice": "v"}
    )
    rows, X = b.select("voice", "test_unseen")
    assert list(rows["identity"]) == ["3", "4"] and X.shape == (2, 3)
    b.save(tmp_path / "b")
    back = EmbeddingBundle.load(tmp_path / "b")
    np.testing.assert_allclose(back.embeddings["face"], b.embeddings["face"], rtol=1e-6)
    assert back.tags == {"face": "f", "voice": "v"}
    with pytest.raises(ValueError, match="manifest has 5 face items"):
        EmbeddingBundle(df, {"face": np.zeros((4, 6)), "voice": np.zeros((5, 3))})


def test_truncated_skip_record_is_tolerated_and_not_glued_to_the_next(tmp_path):
    store = EmbeddingStore.create(tmp_path / "s", "enc", 2)
    store.add_skips([{"item_id": "a", "reason": "silent"}])
    with open(tmp_path / "s" / "skips" / "skips.jsonl", "a") as fh:
        fh.write('{"item_id": "b", "rea')  # killed mid-write
    with pytest.warns(UserWarning, match="truncated skip record"):
        assert [r["item_id"] for r in store.skips()] == ["a"]
    store.add_skips([{"item_id": "b", "reason": "unreadable"}])
    with pytest.warns(UserWarning):
        assert [r["item_id"] for r in store.skips()] == ["a", "b"]
