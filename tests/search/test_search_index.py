"""faiss indexes: the exact one ranks as brute-force cosine does, approximate ones are measured against it,
adding needs no rebuild, and the file round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.search.index import (
    AUTO_EXACT_MAX,
    AUTO_HNSW_MAX,
    VectorIndex,
    choose_kind,
    resolve_params,
)


def unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def clustered(n_clusters: int, per: int, dim: int, spread: float, seed: int) -> np.ndarray:
    """Identity-like clusters: a centre per cluster plus isotropic noise, on the unit sphere."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))
    return unit(np.repeat(centres, per, axis=0) + spread * rng.standard_normal((n_clusters * per, dim)))


def brute_force(G: np.ndarray, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of every (query, gallery) pair in float64, best first: the reference ranking."""
    Gn = G.astype(np.float64) / np.linalg.norm(G.astype(np.float64), axis=1, keepdims=True)
    Qn = Q.astype(np.float64) / np.linalg.norm(Q.astype(np.float64), axis=1, keepdims=True)
    S = Qn @ Gn.T
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, order, axis=1), order


def test_exact_index_equals_brute_force_cosine_ranking():
    rng = np.random.default_rng(0)
    G, Q = rng.standard_normal((3000, 48)), rng.standard_normal((200, 48))  # continuous: no ties
    index = VectorIndex.create("flat", 48)
    index.add(unit(G))
    scores, rows = index.search(unit(Q), 25)
    ref_scores, ref_rows = brute_force(G, Q, 25)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


def test_short_gallery_pads_with_minus_one():
    index = VectorIndex.create("flat", 4)
    index.add(unit(np.eye(4)[:3] + 0.1))
    scores, rows = index.search(unit(np.ones((1, 4))), 5)
    assert rows[0, 3:].tolist() == [-1, -1] and np.isneginf(scores[0, 3:]).all()
    assert sorted(rows[0, :3].tolist()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("kind", "params", "floor"),
    [
        ("hnsw", {"M": 16, "ef_construction": 64, "ef_search": 64}, 0.95),
        ("ivfpq", {"nlist": 32, "nprobe": 8, "nbits": 6}, 0.5),
    ],
)
def test_approximate_index_recall_is_measured_against_exact(kind, params, floor):
    G = clustered(600, 10, 32, spread=0.5, seed=1)
    Q = clustered(600, 10, 32, spread=0.5, seed=1)[::30] + 0.05 * np.random.default_rng(2).standard_normal((200, 32))
    Q = unit(Q)
    _, exact = brute_force(G, Q, 10)
    full = resolve_params(kind, 32, len(G), params)
    index = VectorIndex.create(kind, 32, full, train=G if kind.startswith("ivf") else None)
    index.add(G)
    _, rows = index.search(Q, 10)
    recall10 = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact, strict=True)])
    assert recall10 >= floor
    assert recall10 <= 1.0
    # a much smaller search budget cannot do better: the parameter really reaches faiss
    index.set_search_params(**({"ef_search": 1} if kind == "hnsw" else {"nprobe": 1}))
    _, few = index.search(Q, 10)
    recall_few = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(few, exact, strict=True)])
    assert recall_few < recall10


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_adding_items_without_rebuild_finds_them(kind):
    G = clustered(200, 5, 24, spread=0.4, seed=3)
    index = VectorIndex.create(kind, 24)
    first = index.add(G[:600])
    second = index.add(G[600:])
    assert (first.start, first.stop, second.start, second.stop) == (0, 600, 600, 1000)
    _, rows = index.search(G[600:], 1)
    assert np.mean(rows[:, 0] == np.arange(600, 1000)) >= 0.99  # each added vector finds itself
    if kind == "flat":  # exact: same ranking as an index built in one go
        once = VectorIndex.create("flat", 24)
        once.add(G)
        np.testing.assert_array_equal(index.search(G[:50], 10)[1], once.search(G[:50], 10)[1])


@pytest.mark.parametrize(("kind", "params"), [("ivfsq", {"nlist": 16}), ("ivfpq", {"nlist": 16, "nbits": 6})])
def test_inverted_lists_add_after_training(kind, params):
    G = clustered(300, 10, 32, spread=0.5, seed=4)
    index = VectorIndex.create(kind, 32, params, train=G)
    index.add(G[:1500])
    index.add(G[1500:])
    assert index.ntotal == 3000
    approx = index.reconstruct(np.arange(3000))
    assert approx.shape == (3000, 32)
    assert float(np.mean(np.sum(approx * G, axis=1))) > 0.8  # decoded codes stay close to the vectors


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfsq", "ivfpq"])
def test_save_load_round_trip(tmp_path, kind):
    G = clustered(300, 10, 32, spread=0.5, seed=5)
    given = {"ivfsq": {"nlist": 16}, "ivfpq": {"nlist": 16, "nbits": 6}}.get(kind)
    index = VectorIndex.create(kind, 32, resolve_params(kind, 32, len(G), given), train=G if given else None)
    index.add(G)
    index.save(tmp_path / "x.faiss")
    assert (tmp_path / "x.faiss").read_bytes()[:1] != b"\x80"  # faiss's own format, not a pickle
    back = VectorIndex.load(tmp_path / "x.faiss", kind, index.params)
    np.testing.assert_array_equal(back.search(G[:20], 5)[1], index.search(G[:20], 5)[1])
    other = "hnsw" if kind == "flat" else "flat"
    with pytest.raises(ValueError, match=f"says {other}"):
        VectorIndex.load(tmp_path / "x.faiss", other, {})


def test_load_refuses_a_file_that_is_not_an_index(tmp_path):
    bad = tmp_path / "x.faiss"
    bad.write_text("not an index")
    with pytest.raises(ValueError, match="not a readable faiss index"):
        VectorIndex.load(bad, "flat", {})


def test_non_unit_vectors_are_refused():
    index = VectorIndex.create("flat", 3)
    with pytest.raises(ValueError, match="not unit-norm"):
        index.add(np.array([[1.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="must be 3-d"):
        index.add(unit(np.ones((2, 4))))


def test_choose_kind_thresholds():
    assert choose_kind(AUTO_EXACT_MAX)[0] == "flat"
    assert choose_kind(AUTO_EXACT_MAX + 1)[0] == "hnsw"
    assert choose_kind(AUTO_HNSW_MAX + 1)[0] == "ivfsq"
    assert choose_kind(10, "hnsw") == ("hnsw", "requested")
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        choose_kind(10, "annoy")


def test_params_are_checked_and_filled():
    with pytest.raises(
        ValueError, match=r"unknown hnsw index parameter\(s\) \['efSearch'\]; valid: M, ef_construction"
    ):
        resolve_params("hnsw", 128, 10, {"efSearch": 5})
    with pytest.raises(ValueError, match="M must be >= 1"):
        resolve_params("hnsw", 128, 10, {"M": 0})
    p = resolve_params("ivfpq", 128, 1_000_000)
    assert p["m"] == 64 and 128 % p["m"] == 0  # ~2 dimensions per one-byte code
    assert p["nlist"] == 4096  # 4 * sqrt(1e6) = 4000 -> the nearest power of two
    assert p["train_size"] >= 39 * p["nlist"]
    with pytest.raises(ValueError, match=r"ivfpq m=5 must divide the dimension 128"):
        resolve_params("ivfpq", 128, 100_000, {"m": 5})
    with pytest.raises(ValueError, match="needs >= .* training vectors, got 500: use --kind flat or hnsw"):
        resolve_params("ivfpq", 128, 500)
    assert resolve_params("ivfsq", 96, 40_000) == {"nlist": 1024, "nprobe": 64, "train_size": 40_000, "seed": 0}
    with pytest.raises(ValueError, match="unknown ivfsq index parameter"):
        resolve_params("ivfsq", 96, 40_000, {"m": 8})
