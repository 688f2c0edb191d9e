"""``benchmark --folds K``: one benchmark repeated over K disjoint identity folds of a real corpus.

On a corpus of a few dozen people one identity split decides a lot: which people are tested, and
how many women are among them (a 6-person test set holding 0 to 5 women moves 1:2 accuracy by tens
of points, issue 16). Leave-one-fold-out evaluation uses every person as a test identity once:

* the identities are dealt into K folds, stratified by gender when the manifest has it
  (:func:`facevoice.data.splits.identity_folds`, seeded by ``--fold-seed``);
* fold ``k``: its identities are ``test_unseen``; every other identity trains (``val`` and other
  test identities of the given split become ``train``; items held out as ``test_seen`` stay so),
  and the recipe's selection rule applies (validation carved from training, or the last epoch
  when that would leave too few: ``pipelines.run.prepare_selection``);
* each fold is a full benchmark in ``<out>/fold<k>/`` (its own protocols, runs, report);
* ``<out>/`` gets the across-fold tables: ``results_folds_long.csv`` (one row per fold, method and
  figure: the mean over seeds within the fold), ``results.csv`` / ``results.json`` / ``report.md``
  with mean ± std **over folds**, and ``folds.csv`` (identity → fold).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from facevoice.core.log import get_logger
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.splits import identity_folds
from facevoice.pipelines.benchmark.runner import load_benchmark, run_benchmark
from facevoice.pipelines.data_sources import load_data
from facevoice.pipelines.recipes import replace_data
from facevoice.report.benchmark import write_benchmark_outputs

log = get_logger(__name__)

__all__ = ["fold_manifests", "run_benchmark_folds", "run_benchmark_folds_recipe"]


def fold_manifests(manifest: pd.DataFrame, k: int, seed: int = 0) -> tuple[list[pd.DataFrame], dict[str, int]]:
    """K copies of ``manifest`` with fold ``k``'s identities as ``test_unseen`` and the rest training
    (``test_seen`` items of training identities stay); also identity → fold. Row order is unchanged."""
    gender = None
    if "gender" in manifest.columns and (manifest["gender"].astype(str) != "").any():
        per_id = manifest.drop_duplicates("identity")
        gender = dict(zip(per_id["identity"], per_id["gender"].astype(str), strict=True))
    folds = identity_folds(manifest["identity"], k, gender, seed)
    fold_of = manifest["identity"].map(folds)
    out = []
    for i in range(k):
        df = manifest.copy()
        test = (fold_of == i).to_numpy()
        keep_seen = (df["split"] == "test_seen").to_numpy() & ~test
        df["split"] = "train"
        df.loc[keep_seen, "split"] = "test_seen"
        df.loc[test, "split"] = "test_unseen"
        out.append(df)
    return out, folds


def run_benchmark_folds(
    config: Mapping[str, Any], k: int, *, fold_seed: int = 0, bundle: EmbeddingBundle | None = None, progress=False
) -> Path:
    """Run :func:`~facevoice.pipelines.benchmark.runner.run_benchmark` on each of ``k`` identity folds;
    write the across-fold tables and report under ``config["out"]`` (see the module docstring)."""
    cfg = dict(config)
    bench = str(cfg.get("benchmark", "custom"))
    out = Path(cfg.get("out") or Path("reports") / f"benchmark_{bench}_folds{k}")
    t0 = time.perf_counter()
    if bundle is None:
        bundle, _ = load_data(cfg.get("data") or {})
    manifests, folds = fold_manifests(bundle.manifest, k, fold_seed)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"identity": list(folds), "fold": list(folds.values())}).sort_values(["fold", "identity"]).to_csv(
        out / "folds.csv", index=False
    )
    longs, runs = [], []
    for i, manifest in enumerate(manifests):
        n_test = int(manifest.loc[manifest["split"] == "test_unseen", "identity"].nunique())
        log.info("fold %d/%d: %d test identities, the others train", i + 1, k, n_test)
        fold_out = out / f"fold{i}"
        fold_bundle = EmbeddingBundle(manifest, bundle.embeddings, dict(bundle.tags), dict(bundle.meta))
        run_benchmark({**cfg, "out": str(fold_out)}, bundle=fold_bundle, progress=progress)
        longs.append(pd.read_csv(fold_out / "results_long.csv", keep_default_na=False, na_values=[""]).assign(fold=i))
        runs.append(pd.read_csv(fold_out / "runs.csv").assign(fold=i))
    long = pd.concat(longs, ignore_index=True)
    keys = ["method", "protocol", "split", "direction", "constraint", "metric", "fold"]
    per_fold = long.groupby(keys, sort=False).agg(value=("value", "mean"), n=("n", "first")).reset_index()
    per_fold.to_csv(out / "results_folds_long.csv", index=False)
    folds_as_seeds = per_fold.rename(columns={"fold": "seed"})  # the report's replicate axis: folds
    meta = {
        "benchmark": bench,
        "methods": list(dict.fromkeys(long["method"])),
        "seeds": sorted(set(long["seed"].astype(int))),
        "folds": k,
        "fold_seed": fold_seed,
        "replicates": "folds",
        "data": {kk: v for kk, v in dict(cfg.get("data") or {}).items()},
        "wall_time_s": time.perf_counter() - t0,
    }
    write_benchmark_outputs(out, folds_as_seeds, pd.concat(runs, ignore_index=True), {}, meta)
    (out / "folds.json").write_text(json.dumps({"folds": k, "identities": folds}, indent=1))
    return out


def run_benchmark_folds_recipe(
    spec: str,
    k: int,
    overrides: Sequence[str] = (),
    *,
    fold_seed: int = 0,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    out: str | Path | None = None,
    progress: bool = False,
    data: str | None = None,
) -> Path:
    """What ``facevoice benchmark SPEC --folds K`` runs (the recipe's data replaced by ``data`` when given)."""
    cfg = load_benchmark(spec, list(methods) if methods else None, seeds, list(overrides))
    if data:
        cfg = replace_data(cfg, bundle=data, overrides=overrides)
    if out:
        cfg["out"] = str(out)
    return run_benchmark_folds(cfg, k, fold_seed=fold_seed, progress=progress)
