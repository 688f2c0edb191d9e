"""Index folders built through a run from extracted features, searched with vectors: rankings against an
independent brute force, identity aggregates, adding without rebuild, refusals, crash safety, formats."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from search_fixtures import feature_bundle, train_run

from facevoice.cli import main
from facevoice.data.manifest import write_manifest
from facevoice.pipelines.index import build_index
from facevoice.pipelines.search import report_dict, search_index
from facevoice.runs.loading import embed_array, load_method
from facevoice.runs.media import MediaInputError
from facevoice.search import IndexFolder, IndexFolderError, IndexMismatchError, Searcher
from facevoice.search.index import VectorIndex
from facevoice.store import EmbeddingStore


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("search-features")
    bundle = feature_bundle()
    bundle.save(root / "bundle")
    run = train_run(bundle, root / "run", seed=0)
    other = train_run(bundle, root / "other_run", seed=1)
    index = root / "faces"
    build_index(run, root / "bundle", "face", index, progress=False)
    return {"root": root, "bundle": bundle, "run": run, "other": other, "index": index}


def projected(run, X, modality):
    """The reference projection: the run's method, then unit norm (float64)."""
    Z = embed_array(load_method(run), X, modality).astype(np.float64)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def test_index_folder_records_what_it_was_built_with(world):
    folder = IndexFolder.open(world["index"])
    meta = json.loads((world["index"] / "index.json").read_text())
    assert meta["modality"] == "face" and meta["query_modality"] == "voice"
    assert meta["kind"] == "flat" and meta["kind_reason"].startswith("auto: 150 items")
    assert meta["encoders"] == {"face": "feat-face", "voice": "feat-voice"}
    assert meta["run"]["path"] == str(world["run"].resolve()) and len(meta["run"]["weights_sha256"]) == 64
    assert meta["run"]["inputs"]["face"]["kind"] == "features"
    assert len(folder.items) == 150 and folder.items["row"].tolist() == list(range(150))
    # safe formats only: JSON, parquet, CSV and faiss's own binary file (no pickle anywhere)
    files = sorted(p.relative_to(world["index"]).as_posix() for p in world["index"].rglob("*") if p.is_file())
    assert files == ["gen-000001/index.faiss", "gen-000001/items.parquet", "gen-000001/skips.csv", "index.json"]
    assert not any(p.read_bytes()[:1] == b"\x80" for p in world["index"].rglob("*") if p.is_file())


def test_vector_queries_rank_as_brute_force_cosine(world):
    bundle = world["bundle"]
    faces, voices = bundle.rows("face"), bundle.rows("voice")
    searcher = Searcher(world["index"])
    V = bundle.embeddings["voice"][:40]
    results = searcher.search_features(V, voices["item_id"][:40].tolist(), top_k=7)
    S = projected(world["run"], V, "voice") @ projected(world["run"], bundle.embeddings["face"], "face").T
    for r, s in zip(results, S, strict=True):
        order = np.argsort(-s, kind="stable")[:7]
        assert [h.item_id for h in r.hits] == faces["item_id"].to_numpy()[order].tolist()
        np.testing.assert_allclose([h.score for h in r.hits], s[order], atol=1e-5)
        assert [h.rank for h in r.hits] == list(range(1, 8))


@pytest.mark.parametrize("aggregate", ["best", "mean"])
def test_identity_aggregate_over_all_items_of_an_identity(world, aggregate):
    bundle = world["bundle"]
    faces = bundle.rows("face")
    searcher = Searcher(world["index"])
    V = bundle.embeddings["voice"][100:105]
    results = searcher.search_features(V, [f"q{i}" for i in range(5)], top_k=4, aggregate=aggregate)
    S = projected(world["run"], V, "voice") @ projected(world["run"], bundle.embeddings["face"], "face").T
    idents = faces["identity"].to_numpy()
    for r, s in zip(results, S, strict=True):
        per = {i: (s[idents == i].max() if aggregate == "best" else s[idents == i].mean()) for i in np.unique(idents)}
        want = sorted(per, key=lambda i: -per[i])[:4]
        assert [h.identity for h in r.identities] == want
        np.testing.assert_allclose([h.score for h in r.identities], [per[i] for i in want], atol=1e-5)
        assert all(h.n_items == 5 for h in r.identities)


def test_adding_items_extends_the_index_without_rebuilding(world, tmp_path):
    manifest = world["bundle"].manifest
    half = manifest[manifest["identity"] < "p15"]
    write_manifest(half, tmp_path / "half.parquet")
    store = world["root"] / "bundle" / "face"
    first = build_index(
        world["run"], store, "face", tmp_path / "ix", manifest=tmp_path / "half.parquet", progress=False
    )
    assert (first["added"], first["n_items"]) == (75, 75)
    faiss_before = (tmp_path / "ix" / "gen-000001" / "index.faiss").read_bytes()
    second = build_index(world["run"], world["root"] / "bundle", "face", tmp_path / "ix", progress=False)
    assert (second["added"], second["already_indexed"], second["n_items"]) == (75, 75, 150)
    assert not (tmp_path / "ix" / "gen-000001").exists() and (tmp_path / "ix" / "gen-000002").is_dir()
    grown = IndexFolder.open(tmp_path / "ix")
    np.testing.assert_array_equal(grown.index.reconstruct(np.arange(75)), VectorIndex.load(
        _write(tmp_path / "before.faiss", faiss_before), "flat", {}).reconstruct(np.arange(75)))  # fmt: skip
    V = world["bundle"].embeddings["voice"][::10]
    names = [f"q{i}" for i in range(len(V))]
    once = Searcher(world["index"]).search_features(V, names, top_k=10)
    twice = Searcher(tmp_path / "ix").search_features(V, names, top_k=10)
    assert [[h.item_id for h in r.hits] for r in once] == [[h.item_id for h in r.hits] for r in twice]
    third = build_index(world["run"], world["root"] / "bundle", "face", tmp_path / "ix", progress=False)
    assert third["added"] == 0 and third["n_items"] == 150


def test_a_folder_searched_then_grown_in_memory_answers_for_every_item(world, tmp_path):
    """A library user may add items to an open folder between searches: lookups cached by the first
    search (item ids, identity rows, columns) must include what was added."""
    bundle = world["bundle"]
    faces = bundle.rows("face")
    Zf = projected(world["run"], bundle.embeddings["face"], "face").astype(np.float32)
    first = faces["identity"].to_numpy() < "p15"
    folder = IndexFolder.new(
        tmp_path / "grown",
        modality="face",
        index=VectorIndex.create("flat", Zf.shape[1]),
        run=IndexFolder.open(world["index"]).meta["run"],
        encoders={"face": "feat-face", "voice": "feat-voice"},
    )
    folder.add(faces[first], Zf[first])
    searcher = Searcher(folder)
    V = bundle.embeddings["voice"][::25]
    names = [f"q{i}" for i in range(len(V))]
    searcher.search_features(V, names, top_k=3)  # fills the folder's lookups with the first half
    folder.add(faces[~first], Zf[~first])
    assert folder.item_ids() == set(faces["item_id"])
    grown = searcher.search_features(V, names, top_k=30, aggregate="mean")
    S = projected(world["run"], V, "voice") @ Zf[np.r_[np.flatnonzero(first), np.flatnonzero(~first)]].T
    idents = np.r_[faces["identity"].to_numpy()[first], faces["identity"].to_numpy()[~first]]
    for r, s in zip(grown, S, strict=True):
        per = {i: s[idents == i].mean() for i in np.unique(idents)}
        want = sorted(per, key=lambda i: -per[i])
        assert [h.identity for h in r.identities] == want  # every identity, the added ones included
        np.testing.assert_allclose([h.score for h in r.identities], [per[i] for i in want], atol=1e-5)
        assert all(h.n_items == 5 for h in r.identities)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_an_interrupted_commit_leaves_the_previous_index(world, tmp_path, monkeypatch):
    manifest = world["bundle"].manifest
    write_manifest(manifest[manifest["identity"] < "p10"], tmp_path / "some.parquet")
    store = world["root"] / "bundle" / "face"
    build_index(world["run"], store, "face", tmp_path / "ix", manifest=tmp_path / "some.parquet", progress=False)

    def killed(self, path):
        (path.parent / "partial").write_text("half a file")
        raise KeyboardInterrupt("killed while writing the new generation")

    monkeypatch.setattr(VectorIndex, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        build_index(world["run"], world["root"] / "bundle", "face", tmp_path / "ix", progress=False)
    monkeypatch.undo()
    assert len(IndexFolder.open(tmp_path / "ix").items) == 50  # still the committed state
    report = build_index(world["run"], world["root"] / "bundle", "face", tmp_path / "ix", progress=False)
    assert (report["added"], report["n_items"]) == (100, 150)
    assert sorted(p.name for p in (tmp_path / "ix").iterdir()) == ["gen-000002", "index.json"]


def test_a_damaged_folder_is_refused(world, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(world["index"], copy)
    items = pd.read_parquet(copy / "gen-000001" / "items.parquet")
    items.iloc[:-1].to_parquet(copy / "gen-000001" / "items.parquet")
    with pytest.raises(IndexFolderError, match="holds 150 vectors, items.parquet 149 rows"):
        IndexFolder.open(copy)
    with pytest.raises(IndexFolderError, match="not a facevoice index folder"):
        IndexFolder.open(tmp_path)


def test_queries_through_another_run_or_encoder_are_refused(world, tmp_path):
    with pytest.raises(IndexMismatchError, match="not the run .* was built with"):
        Searcher(world["index"], run=world["other"])
    with pytest.raises(IndexFolderError, match=r"was built with run .* \(other weights\)"):
        build_index(world["other"], world["root"] / "bundle", "face", world["index"], progress=False)
    wrong = EmbeddingStore.create(tmp_path / "wrong", "another-encoder", 16)
    wrong.write_shard(["a"], np.ones((1, 16), np.float32))
    with pytest.raises(IndexMismatchError, match="encoder 'another-encoder'.* queried with 'feat-voice'"):
        search_index(world["index"], tmp_path / "wrong")
    with pytest.raises(MediaInputError, match="holds face embeddings of 'another-encoder'"):
        w = EmbeddingStore.create(tmp_path / "wface", "another-encoder", 24)
        w.write_shard(["face:p00/0"], np.ones((1, 24), np.float32))
        build_index(world["run"], tmp_path / "wface", "face", tmp_path / "ix2", manifest=_manifest(world, tmp_path))


def _manifest(world, tmp_path):
    return write_manifest(world["bundle"].manifest, tmp_path / "m.parquet")


def test_media_queries_on_a_features_run_are_refused_in_one_line(world, tmp_path):
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    with pytest.raises(MediaInputError, match="pre-extracted features \\(feat-voice, 16-d\\) .* give voice vectors"):
        Searcher(world["index"]).search_files([clip])


def test_search_json_is_well_formed_for_every_query(world, tmp_path, monkeypatch, capsys):
    V = world["bundle"].embeddings["voice"][:3].copy()
    V[1] = np.nan  # a broken vector: a skip record, not a crash
    np.save(tmp_path / "q.npy", V)
    monkeypatch.setattr(sys, "argv", ["facevoice", "search", str(world["index"]), "-q", str(tmp_path / "q.npy"),
                                      "--json", "-k", "3", "--out", str(tmp_path / "r.csv")])  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (doc["n_queries"], doc["n_ok"], doc["n_skipped"]) == (3, 2, 1)
    assert [q["status"] for q in doc["queries"]] == ["ok", "skipped", "ok"]
    assert doc["queries"][1]["reason"] == "encode_error" and "q.npy#1" in captured.err
    assert [len(q["results"]) for q in doc["queries"] if q["status"] == "ok"] == [3, 3]
    table = pd.read_csv(tmp_path / "r.csv")
    assert set(table["level"].dropna()) == {"item", "identity"} and (table["status"] == "skipped").sum() == 1
    searcher, results = search_index(world["index"], tmp_path / "q.npy", top_k=3)
    assert report_dict(searcher, results, 3, "best")["queries"] == doc["queries"]


def test_cli_errors_are_one_line(world, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FACEVOICE_DEBUG", raising=False)
    bundle = world["root"] / "bundle"

    def index(gallery, modality, out, *extra):
        return ["index", str(world["run"]), "-g", str(gallery), "-m", modality, "-o", str(out), *extra]

    cases = [
        (["search", str(tmp_path), "-q", "x.wav"], "not a facevoice index folder"),
        (index(bundle, "face", world["index"], "--kind", "hnsw"), "is a flat index; adding items keeps its kind"),
        (index(bundle / "face", "face", tmp_path / "n"), "an embedding store holds no identities or paths"),
        (index(bundle, "voice", tmp_path / "v", "--kind", "hnsw", "--param", "efSearch=3"), "['efSearch']; valid"),
        (index(bundle, "both", tmp_path / "b"), "--modality must be face or voice"),
    ]
    for argv, message in cases:
        monkeypatch.setattr(sys, "argv", ["facevoice", *argv])
        with pytest.raises(SystemExit) as exc:
            main()
        err = capsys.readouterr().err
        assert exc.value.code in (1, 2) and message in err, err
        assert "Traceback" not in err


@pytest.mark.shared_data
def test_an_imported_checkpoint_indexes_vectors_and_refuses_media(shared_data, tmp_path):
    """A released FOP checkpoint knows nothing of the encoders behind its 4096/512-d inputs: its index is
    built from user-supplied feature vectors and queried with vectors; media get one clear line."""
    from facevoice.interop.checkpoints import import_checkpoint

    run = import_checkpoint(shared_data / "checkpoints" / "fop_mavceleb_v1_english.pth.tar", tmp_path / "run")
    rng = np.random.default_rng(0)
    rows = [{"item_id": f"face:{i}", "identity": f"p{i // 3}", "modality": "face", "path": f"/f/{i}.jpg",
             "split": "test"} for i in range(30)]  # fmt: skip
    write_manifest(pd.DataFrame(rows), tmp_path / "m.parquet")
    store = EmbeddingStore.create(tmp_path / "vgg", "vggface-fc7 (released features)", 4096)
    store.write_shard([r["item_id"] for r in rows], rng.standard_normal((30, 4096)).astype(np.float32))
    report = build_index(
        run, tmp_path / "vgg", "face", tmp_path / "ix", manifest=tmp_path / "m.parquet", progress=False
    )
    assert report["added"] == 30
    np.save(tmp_path / "q.npy", rng.standard_normal((2, 512)).astype(np.float32))
    _, results = search_index(tmp_path / "ix", tmp_path / "q.npy", top_k=3)
    assert [r.status for r in results] == ["ok", "ok"] and len(results[0].hits) == 3
    with pytest.raises(
        MediaInputError,
        match=r"voice inputs are pre-extracted features \(external:[^,]*, 512-d\) that facevoice cannot",
    ):
        Searcher(tmp_path / "ix").search_files([tmp_path / "clip.wav"])
