"""Vector search at scale and the cross-modal quality of search (plain script, not a test).

Usage: python benchmarks/search_bench.py [--sizes 1e4,1e5,1e6] [--queries 1000] [--skip-quality] [--skip-speed]

Speed: galleries of generated face embeddings — simceleb faces (the vox1 world, with 512-d instead of
4096-d face observations so that 10^6 faces generate in about a minute; ``--face-dim 4096`` for the
paper-size world) projected through an FOP run trained on that world (128-d, L2-normalised) — and 1,000
voice queries of gallery people. For each size and index kind (exact flat, HNSW, IVF-SQ8, IVF-PQ): build time on
``--threads`` threads, index bytes per vector, ms/query single-threaded (p50, p95, one query per call)
and batched (all queries in one call on ``--threads`` threads), recall@1 / recall@10 of the top-10 against
the exact index's top-10 in the same run, and the speed-up over exact search (p50 against p50).
Quality: for every simvox1 method (recipes, seed 0) and the simulator's oracle, voice → face search over
the whole unseen-unheard test gallery (250 people, 2,000 faces, 2,000 voice queries) through
``facevoice index`` / ``Searcher``: identity-level R@1, R@10 and mAP (identities ranked by their best
face), and item-level mAP. The machine's load average is printed: on a shared CPU, timings move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from facevoice.data.manifest import write_manifest
from facevoice.eval.metrics import retrieval_report
from facevoice.extract.build import parse_options
from facevoice.pipelines.index import build_index
from facevoice.pipelines.recipes import load_recipe
from facevoice.pipelines.run import train
from facevoice.runs.loading import embed_array, load_method
from facevoice.search import Searcher, VectorIndex, resolve_params
from facevoice.search.index import IVF_KINDS, SEARCH_PARAMS
from facevoice.simceleb.simulate import simulate

QUALITY_METHODS = ("fop", "sbnet", "paeff", "ssos", "contrastive", "cca")


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def unit(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(X / np.linalg.norm(X, axis=1, keepdims=True), dtype=np.float32)


# -- speed ----------------------------------------------------------------------------------------
def speed_run(face_dim: int, epochs: int, folder: Path) -> Path:
    """FOP (the simvox1 recipe, shorter) trained on the vox1 world with ``face_dim``-d face observations."""
    cfg = load_recipe("simvox1/fop", [f"train.epochs={epochs}", "train.progress=false"])
    cfg["data"] = {"source": "simulated", "preset": "vox1", "seed": 0, "options": {"d_face": face_dim}}
    cfg.pop("_recipe", None)
    return trained(cfg, None, folder / f"fop_d{face_dim}_e{epochs}")


def generate(run: Path, n_faces: int, face_dim: int):
    """``n_faces`` unit face embeddings (chunks of 10,000 simulated people, 8 faces and 4 voices each) and
    the voices of the same people, all projected through the run: faces, their person ids, voices, theirs."""
    method = load_method(run)
    per_chunk = 10_000
    faces, face_ids, voices, voice_ids = [], [], [], []
    made, chunk = 0, 0
    while made < n_faces:
        people = min(per_chunk, -(-(n_faces - made) // 8))
        sim = simulate("vox1", seed=1000 + chunk, d_face=face_dim, n_identities=max(people, 4), n_train=2, n_val=0,
                       voice_items_per_video=1)  # fmt: skip
        f_rows, v_rows = sim.bundle.rows("face"), sim.bundle.rows("voice")
        take = min(len(f_rows), n_faces - made)
        faces.append(unit(embed_array(method, sim.bundle.embeddings["face"][:take], "face")))
        person = {name: chunk * per_chunk + i for i, name in enumerate(sorted(f_rows["identity"].unique()))}
        face_ids.append(f_rows["identity"][:take].map(person).to_numpy(np.int64))  # integers: np.isin stays fast
        voices.append(unit(embed_array(method, sim.bundle.embeddings["voice"], "voice")))
        voice_ids.append(v_rows["identity"].map(person).to_numpy(np.int64))
        made += take
        chunk += 1
    return np.concatenate(faces), np.concatenate(face_ids), np.concatenate(voices), np.concatenate(voice_ids)


def pick_queries(fid: np.ndarray, V: np.ndarray, vid: np.ndarray, n: int, seed: int = 0):
    """``n`` voices of people who have faces in the gallery ``fid``."""
    cand = np.flatnonzero(np.isin(vid, np.unique(fid)))
    pick = np.sort(np.random.default_rng(seed).choice(cand, size=min(n, len(cand)), replace=False))
    return V[pick], vid[pick]


def single_thread_ms(index: VectorIndex, Q: np.ndarray, k: int) -> np.ndarray:
    import faiss

    faiss.omp_set_num_threads(1)
    index.search(Q[:5], k)  # warm-up
    times = np.empty(len(Q))
    for i in range(len(Q)):
        t0 = time.perf_counter()
        index.search(Q[i : i + 1], k)
        times[i] = time.perf_counter() - t0
    return 1000 * times


def trained(cfg: dict, bundle, run_dir: Path) -> Path:
    """Train unless ``run_dir`` holds a complete run (delete the folder to retrain)."""
    info = run_dir / "run.json"
    if info.is_file() and json.loads(info.read_text()).get("status") == "complete":
        return run_dir
    return train(cfg, bundle=bundle, run_dir=run_dir, resume=False)


def build(kind: str, params: dict, F: np.ndarray, threads: int) -> tuple[VectorIndex, float]:
    import faiss

    faiss.omp_set_num_threads(threads)
    full = resolve_params(kind, F.shape[1], len(F), params)
    t0 = time.perf_counter()
    index = VectorIndex.create(kind, F.shape[1], full, train=F if kind in IVF_KINDS else None)
    index.add(F)
    return index, time.perf_counter() - t0


def evaluate(index: VectorIndex, Q: np.ndarray, exact: np.ndarray | None, threads: int, k: int = 10):
    """Timings (single-threaded per query, batched) and recall against ``exact`` (None: this is the exact one)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    t0 = time.perf_counter()
    _, rows = index.search(Q, k)
    batched_ms = 1000 * (time.perf_counter() - t0) / len(Q)
    single = single_thread_ms(index, Q, k)
    row = {
        "kind": index.kind,
        "params": {k_: v for k_, v in index.params.items() if k_ != "seed"},
        "bytes_per_vector": index.nbytes() / index.ntotal,
        "p50_ms": float(np.percentile(single, 50)),
        "p95_ms": float(np.percentile(single, 95)),
        "batched_ms": batched_ms,
    }
    if exact is not None:
        row["recall@1"] = float(np.mean(rows[:, 0] == exact[:, 0]))
        row["recall@10"] = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(rows, exact, strict=True)]))
    return row, rows


def identity_hits(rows: np.ndarray, gallery_ident: np.ndarray, query_ident: np.ndarray) -> float:
    """Share of queries whose person owns one of the top-10 faces (what the search is for)."""
    return float(np.mean([q in set(gallery_ident[r[r >= 0]]) for r, q in zip(rows, query_ident, strict=True)]))


def speed(args) -> list[dict]:
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    folder = Path(args.runs or tempfile.mkdtemp(prefix="search-bench-"))
    print(f"\n== speed: load average {load()} (1/5/15 min) on {os.cpu_count()} CPUs; {args.threads} faiss threads")
    t0 = time.perf_counter()
    run = speed_run(args.face_dim, args.epochs, folder)
    print(f"FOP run, vox1 world with {args.face_dim}-d faces, {args.epochs} epochs: {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    F_all, fid_all, V_all, vid_all = generate(run, max(sizes), args.face_dim)
    print(f"generated {len(F_all):,} faces ({F_all.shape[1]}-d) + their voices: {time.perf_counter() - t0:.0f} s")
    given = {kind: parse_options(getattr(args, kind)) for kind in ("hnsw", "ivfsq", "ivfpq")}
    sweep = [int(x) for x in args.ef_sweep.split(",") if x]
    table = []
    for n in sizes:
        F, fid = F_all[:n], fid_all[:n]
        Q, qid = pick_queries(fid, V_all, vid_all, args.queries)
        index, seconds = build("flat", {}, F, args.threads)
        flat, exact = evaluate(index, Q, None, args.threads)
        flat.update(build_s=seconds, **{"id@10": identity_hits(exact, fid, qid)})
        rows = [flat]
        del index
        for kind, params in given.items():
            try:
                index, seconds = build(kind, params, F, args.threads)
            except ValueError as exc:  # e.g. too few vectors to train IVF-PQ
                rows.append({"kind": kind, "skipped": str(exc)})
                continue
            default = dict(index.params)
            settings = [{}] + (
                [{"ef_search": ef} for ef in sweep if ef != default["ef_search"]] if kind == "hnsw" else []
            )
            for extra in settings:
                index.set_search_params(**(extra or {k: default[k] for k in SEARCH_PARAMS[kind]}))
                row, found = evaluate(index, Q, exact, args.threads)
                row.update(build_s=seconds, default=not extra, **{"id@10": identity_hits(found, fid, qid)})
                rows.append(row)
            del index
        for r in rows:
            r.update(n=n, n_queries=len(Q), load=load())
            if "p50_ms" in r:
                r["speedup_p50"] = flat["p50_ms"] / r["p50_ms"]
        _print_speed(rows)
        table += rows
    return table


def _print_speed(rows: list[dict]) -> None:
    head = (
        f"{'n':>9} {'kind':<6} {'build s':>8} {'B/vec':>7} {'p50 ms':>8} {'p95 ms':>8} {'batch ms':>9} "
        f"{'R@1':>6} {'R@10':>6} {'x exact':>8} {'id@10':>6}  params"
    )
    print(head)
    for r in rows:
        if "skipped" in r:
            print(f"{r['n']:>9,} {r['kind']:<6} skipped: {r['skipped']}")
            continue
        r1, r10 = (f"{r[key]:.3f}" if key in r else "exact" for key in ("recall@1", "recall@10"))
        print(
            f"{r['n']:>9,} {r['kind']:<6} {r['build_s']:>8.1f} {r['bytes_per_vector']:>7.0f} {r['p50_ms']:>8.3f} "
            f"{r['p95_ms']:>8.3f} {r['batched_ms']:>9.4f} {r1:>6} {r10:>6} "
            f"{r['speedup_p50']:>8.1f} {r['id@10']:>6.3f}  {json.dumps(r['params'])}  (load {r['load']})"
        )


# -- quality --------------------------------------------------------------------------------------
def identity_metrics(S: np.ndarray, face_ident: np.ndarray, query_ident: np.ndarray) -> dict:
    """S (queries, faces): identity-level R@1/R@10/mAP (identities scored by their best face) + item mAP."""
    people = np.unique(face_ident)
    col = np.searchsorted(people, face_ident)
    best = np.full((len(S), len(people)), -np.inf)
    for j in range(len(people)):
        best[:, j] = S[:, col == j].max(axis=1)
    ident = retrieval_report(best, query_ident[:, None] == people[None, :], ks=(1, 10))
    items = retrieval_report(S, query_ident[:, None] == face_ident[None, :], ks=(1,))
    return {"R@1": ident["recall@1"], "R@10": ident["recall@10"], "mAP": ident["map"], "item mAP": items["map"]}


def _quality_line(m: dict) -> str:
    return f"R@1 {m['R@1']:.3f}  R@10 {m['R@10']:.3f}  mAP {m['mAP']:.3f}  item mAP {m['item mAP']:.3f}"


def quality(args) -> list[dict]:
    folder = Path(args.runs or tempfile.mkdtemp(prefix="search-bench-"))
    print(f"\n== quality: voice -> face search over the simvox1 unseen-unheard test gallery; load {load()}")
    sim = simulate("vox1", seed=0)
    bundle = sim.bundle
    test = bundle.manifest[bundle.manifest["split"] == "test_unseen"]
    bundle.save(folder / "simvox1_bundle")
    write_manifest(test, folder / "test_manifest.parquet")
    faces, voices = test[test["modality"] == "face"], test[test["modality"] == "voice"]
    look = {m: bundle.lookup(m) for m in ("face", "voice")}
    V_in = bundle.embeddings["voice"][[look["voice"][i] for i in voices["item_id"]]]
    table = []
    for name in args.methods.split(","):
        t0 = time.perf_counter()
        cfg = load_recipe(f"simvox1/{name}", ["train.progress=false"])
        cfg.pop("_recipe", None)
        run_dir = trained(cfg, bundle, folder / "runs" / name)
        index = folder / "indexes" / name
        build_index(run_dir, folder / "simvox1_bundle", "face", index, manifest=folder / "test_manifest.parquet",
                    kind="flat", progress=False)  # fmt: skip
        searcher = Searcher(index)
        results = searcher.search_features(V_in, voices["item_id"].tolist(), top_k=10)
        G = searcher.folder.index.reconstruct(np.arange(searcher.folder.index.ntotal))
        Qz, _ = searcher.embedder.project(V_in, "voice")
        S = Qz @ G.T
        face_ident = searcher.folder.items["identity"].to_numpy()
        m = identity_metrics(S, face_ident, voices["identity"].to_numpy())
        # the product's own top-1 identity agrees with the matrix the metrics read
        top1 = np.mean([r.identities[0].identity == q for r, q in zip(results, voices["identity"], strict=True)])
        assert abs(top1 - m["R@1"]) < 0.01, (top1, m["R@1"])
        table.append({"method": name, **m, "seconds": time.perf_counter() - t0})
        print(f"{name:<12} {_quality_line(m)}  ({table[-1]['seconds']:.0f} s)")
    L = sim.oracle.score_matrix(faces["item_id"].tolist(), voices["item_id"].tolist()).T  # (voices, faces) LLR
    m = identity_metrics(L, faces["identity"].to_numpy(), voices["identity"].to_numpy())
    table.append({"method": "oracle", **m})
    print(f"{'oracle':<12} {_quality_line(m)}")
    n = faces["identity"].nunique()
    print(f"chance: R@1 {1 / n:.3f}, R@10 {10 / n:.3f} ({n} people, {len(faces)} faces, {len(voices)} voice queries)")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6", help="gallery sizes (comma list)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="faiss threads for building and batched search")
    parser.add_argument(
        "--face-dim", type=int, default=512, help="simulated face observation width (4096 = paper size)"
    )
    parser.add_argument("--epochs", type=int, default=20, help="FOP epochs for the speed part's run")
    parser.add_argument("--hnsw", nargs="*", default=[], help="hnsw parameters key=value (default: the library's)")
    parser.add_argument("--ivfsq", nargs="*", default=[], help="ivfsq parameters key=value (default: the library's)")
    parser.add_argument("--ivfpq", nargs="*", default=[], help="ivfpq parameters key=value (default: the library's)")
    parser.add_argument("--ef-sweep", default="64,256", help="other hnsw ef_search values measured on the same graph")
    parser.add_argument("--methods", default=",".join(QUALITY_METHODS))
    parser.add_argument("--runs", default=None, help="folder to keep (and reuse) runs and indexes in")
    parser.add_argument("--json", default=None, help="write every figure to this JSON file")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    out = {"speed": [] if args.skip_speed else speed(args), "quality": [] if args.skip_quality else quality(args)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
