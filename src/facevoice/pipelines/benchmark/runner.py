"""``run_benchmark(config)``: methods × seeds on one benchmark -> one results table and a report.

The benchmark recipe (``<benchmark>/benchmark``) holds the ``data:`` and ``eval:``
sections, ``methods`` (recipe names in the same folder; without it, every recipe in that folder
whose method is trainable: :func:`folder_methods`), ``seeds`` and ``references`` (``cca``:
the training-free baseline, run like a method; ``oracle``: the simulator's Bayes-optimal scores,
simulated data only) and ``backend_rows`` (``all`` or method names: each also gets a row
``<method>+plda``, the PLDA back-end fitted on its embeddings; methods' own ablation back-ends add
rows ``<method>-<name>``). Every method is trained per seed into ``<out>/runs/<method>/seed<k>`` (a
finished run with the same resolved config is reused; one a kill interrupted is resumed), its
selected checkpoint embeds the test items, and the evaluation engine scores every protocol built
once from the manifest (unseen-unheard / seen-heard; random, G, N, A, GNA verification; 1:N for
N = 2..10 in both directions; retrieval).

Outputs under ``out``: ``results_long.csv`` (one row per method, seed and figure),
``results.csv`` (mean ± std over seeds), ``results.json``, ``runs.csv`` (training time per epoch,
best epoch, ...), ``protocols/``, ``scores/`` (headline trial scores, for the ROC figure) and
``report.md`` with its figures. ``references`` may also ask for the ``gender`` (gender-only
matcher) and ``chance`` rows of :mod:`~facevoice.pipelines.benchmark.references` (off by default).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from facevoice.core.config import apply_overrides
from facevoice.core.log import get_logger
from facevoice.eval.protocols.protocol_set import TEST_SPLITS, build_protocols
from facevoice.methods import METHODS
from facevoice.pipelines.benchmark.references import evaluate_references
from facevoice.pipelines.benchmark.scoring import evaluate_method, evaluate_oracle, extra_rows
from facevoice.pipelines.data_sources import bundle_fingerprint, load_data
from facevoice.pipelines.recipes import load_recipe, replace_data, resolve_recipe
from facevoice.pipelines.run import train
from facevoice.report.benchmark import write_benchmark_outputs
from facevoice.report.paired import save_and_compare
from facevoice.runs.checkpoint import resolve_checkpoint
from facevoice.runs.loading import load_method
from facevoice.train.resume import RunMismatch, check_resumable

log = get_logger(__name__)

DEFAULT_EVAL: dict[str, Any] = {
    "seed": 0,
    "n_neg": 1,
    "constraints": ["random", "G", "N", "A", "GNA"],
    "gallery_sizes": list(range(2, 11)),
    "n_galleries": None,
    "directions": ["v2f", "f2v"],
    "kinds": ["verification", "matching", "retrieval"],
    "reference": False,
    "paired_n_boot": 1000,  # bootstrap replicates of the paired comparison with CCA (0: off)
}


class BenchmarkError(RuntimeError):
    """A benchmark cannot proceed as configured (e.g. a run folder holds another configuration)."""


def load_benchmark(
    spec: str | Path, methods: Sequence[str] | None = None, seeds: Sequence[int] | None = None, overrides=()
) -> dict[str, Any]:
    """Benchmark config from a recipe path, ``<benchmark>/benchmark`` or a benchmark name (``simvox1``)."""
    try:
        path = resolve_recipe(spec)
    except FileNotFoundError:
        path = resolve_recipe(f"{spec}/benchmark")
    cfg = load_recipe(path, [o for o in overrides if not _method_prefix(o)[0]])
    if methods:
        cfg["methods"] = list(methods)
    elif not cfg.get("methods"):
        cfg["methods"] = folder_methods(path)
    if seeds is not None:
        cfg["seeds"] = [int(s) for s in seeds]
    cfg["_overrides"] = list(overrides)
    return cfg


#: training-free baselines the benchmark adds as reference rows (``references:``), not as methods
REFERENCE_METHODS = ("cca",)


def folder_methods(benchmark_recipe: str | Path) -> list[str]:
    """Method recipes beside a benchmark recipe, by file name (the default ``methods``).

    Files starting with ``_`` (shared bases) and files without a ``method:`` section (benchmark
    recipes) are not methods; the CCA baseline runs as a ``references`` row instead.
    """
    path = Path(benchmark_recipe)
    names = []
    for cand in sorted(path.parent.glob("*.yaml")):
        if cand.name.startswith("_") or cand.resolve() == path.resolve():
            continue
        method = load_recipe(cand).get("method") or {}
        if method.get("name") and str(method["name"]).lower() not in REFERENCE_METHODS:
            METHODS.get(str(method["name"]))  # an unknown method name fails here, naming the valid ones
            names.append(cand.stem)
    return names


def method_label(entry: str) -> str:
    """Name of a ``methods`` entry in tables and run folders: the file stem for a recipe path, else itself."""
    return Path(entry).stem if _is_recipe_path(entry) else entry


def _is_recipe_path(entry: str) -> bool:
    return Path(entry).suffix.lower() in (".yaml", ".yml")


def method_recipe(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The recipe of ``name`` (with the CLI overrides), on the benchmark's data.

    ``name`` is a recipe name beside the benchmark recipe (``fop``), a recipe file (``my/fop_wd0.yaml``,
    labelled by its stem; a relative path is tried from the working folder, then beside the benchmark
    recipe), or a registered method name without a recipe (trained with the benchmark's ``train:``).
    """
    folder = Path(cfg["_recipe"]).parent if cfg.get("_recipe") else None
    overrides = overrides_for(method_label(name), cfg.get("_overrides") or ())
    if _is_recipe_path(name):
        path = Path(name)
        if not path.is_file() and folder is not None and (folder / name).is_file():
            path = folder / name
        if not path.is_file():
            raise BenchmarkError(f"method recipe {name}: no such file")
        recipe = load_recipe(path, overrides)
    elif folder is not None and (folder / f"{name}.yaml").is_file():
        recipe = load_recipe(folder / f"{name}.yaml", overrides)
    else:
        recipe = apply_overrides({"method": {"name": name}, "train": dict(cfg.get("train") or {})}, overrides)
    recipe["benchmark"] = cfg.get("benchmark", "custom")
    recipe["data"] = dict(cfg.get("data") or {})
    recipe.pop("_recipe", None)
    return recipe


def _method_prefix(text: str) -> tuple[str, str]:
    """``"fop:method.lr=1"`` -> ("fop", "method.lr=1"); no prefix -> ("", text)."""
    key = text.partition("=")[0]
    if ":" in key:
        prefix, _, rest = text.partition(":")
        return prefix.strip().lower(), rest
    return "", text


def overrides_for(name: str, overrides: Sequence[str]) -> list[str]:
    """The CLI overrides that apply to method ``name``.

    ``<method>:key=value`` applies to that method only; an unprefixed override applies to every
    method, except that ``method.*`` keys skip the training-free CCA reference (whose
    hyper-parameters differ from the trained heads').
    """
    out = []
    for text in overrides:
        prefix, rest = _method_prefix(text)
        if prefix:
            if prefix == name.lower():
                out.append(rest)
        elif not (name.lower() == "cca" and rest.strip().startswith("method.")):
            out.append(rest)
    return out


def ensure_run(recipe: Mapping[str, Any], bundle, run_dir: Path, seed: int, progress: bool) -> dict[str, Any]:
    """Train ``recipe`` for ``seed`` into ``run_dir`` unless a finished identical run is there; return run.json.

    A folder holding the same configuration on the same data (:func:`~facevoice.train.resume.check_resumable`)
    is reused when its run finished, resumed from ``checkpoints/last`` when a kill interrupted it, and
    started again when it never reached a checkpoint; another configuration or other data is refused.
    """

    config = {**recipe, "train": {**dict(recipe.get("train") or {}), "seed": int(seed), "progress": progress}}
    try:
        check_resumable(run_dir, config, bundle_fingerprint(bundle))
    except RunMismatch as exc:
        raise BenchmarkError(f"{exc}; use another output folder or remove {run_dir}") from exc
    if (run_dir / "run.json").exists():
        info = json.loads((run_dir / "run.json").read_text())
        if info.get("status") in ("complete", "early_stopped"):
            log.info("reusing finished run %s", run_dir)
            return info
    resume = resolve_checkpoint(run_dir / "checkpoints" / "last") is not None
    train(config, bundle=bundle, run_dir=run_dir, resume=resume)
    return json.loads((run_dir / "run.json").read_text())


def run_benchmark(config: Mapping[str, Any], *, bundle=None, oracle=None, progress: bool = False) -> Path:
    """Train and evaluate every method × seed of ``config``; write tables and the report; return ``out``."""

    cfg = dict(config)
    bench = str(cfg.get("benchmark", "custom"))
    out = Path(cfg.get("out") or Path("reports") / f"benchmark_{bench}")
    refs = {"cca": True, "oracle": True, "gender": False, "chance": False, **dict(cfg.get("references") or {})}
    methods = list(cfg.get("methods") or [])
    if refs["cca"] and "cca" not in [method_label(m) for m in methods]:
        methods.append("cca")
    if not methods:
        raise BenchmarkError("benchmark config lists no methods")
    seeds = [int(s) for s in (cfg.get("seeds") or [0])]
    ev = {**DEFAULT_EVAL, **dict(cfg.get("eval") or {})}
    t0 = time.perf_counter()
    if bundle is None:
        bundle, oracle = load_data(cfg.get("data") or {})
    lists = dict((cfg.get("data") or {}).get("tests") or {})
    ps = None
    if bundle.manifest["split"].isin(TEST_SPLITS).any():
        ps = build_protocols(
            bundle.manifest,
            seed=int(ev["seed"]),
            n_neg=int(ev["n_neg"]),
            constraints=ev["constraints"],
            gallery_sizes=ev["gallery_sizes"],
            n_galleries=ev["n_galleries"],
            directions=ev["directions"],
            kinds=ev["kinds"],
        )
        ps.save(out / "protocols")
        if not len(ps.trials) and not len(ps.galleries):
            raise BenchmarkError(too_few_test_identities(bundle.manifest))
        for split in sorted(set(bundle.manifest["split"]) & set(TEST_SPLITS) - set(ps.trials["split"])):
            log.warning(
                "no trial on %s: %s", split, too_few_test_identities(bundle.manifest[bundle.manifest["split"] == split])
            )
    elif not lists:
        raise BenchmarkError(f"the data has none of the test splits {list(TEST_SPLITS)} and no data.tests lists")
    tables, runs, headline, trial_scores, kinds = [], [], {}, {}, {}
    labels = [method_label(m) for m in methods]
    plda_rows = _plda_rows(cfg.get("backend_rows"), labels)
    if len(set(labels)) != len(labels):
        raise BenchmarkError(f"two methods share a name in {methods}; give the recipe files distinct names")
    for entry, name in zip(methods, labels, strict=True):
        recipe = method_recipe(cfg, entry)
        for seed in seeds if _trainable(recipe) else seeds[:1]:  # training-free methods are deterministic: fit once
            run_dir = out / "runs" / name / f"seed{seed}"
            log.info("benchmark %s: %s seed %d", bench, name, seed)
            info = ensure_run(recipe, bundle, run_dir, seed, progress)
            if ps is not None:
                method = load_method(run_dir, "best", device=info.get("device", "cpu"))
                res, head, scores = evaluate_method(method, bundle, ps, ev, info.get("device", "cpu"))
                rows = [(name, res, head, scores, "llr" if method.score_backend().llr else "cosine")]
                rows += extra_rows(name, method, bundle, ps, ev, info.get("device", "cpu"), info, name in plda_rows)
                for row, res, head, scores, kind in rows:
                    tables.append(res.assign(method=row, seed=seed))
                    trial_scores.setdefault(row, {})[seed] = scores
                    kinds[row] = kind
                    if head is not None and seed == seeds[0]:
                        headline[row] = head
            if lists:  # train() scored the data.tests lists with the selected checkpoint
                tables.append(lists_table(json.loads((run_dir / "test_lists.json").read_text()), name, seed))
            runs.append(_run_row(name, seed, run_dir, info))
    if ps is not None:  # gender-only and chance rows, when the recipe asks for them
        for name, res, head in evaluate_references(refs, bundle.manifest, ps, ev):
            tables.append(res.assign(method=name, seed=seeds[0]))
            if head is not None:
                headline[name] = head
    if oracle is not None and refs["oracle"] and ps is not None:
        res, head = evaluate_oracle(oracle, ps, bundle.manifest, ev)
        tables.append(res.assign(method="oracle", seed=int((cfg.get("data") or {}).get("seed", 0))))
        kinds["oracle"] = "llr"
        if head is not None:
            headline["oracle"] = head
    meta = {
        "benchmark": bench,
        "methods": labels,
        "seeds": seeds,
        "references": refs,
        "backend_rows": sorted(plda_rows),
        "score_kinds": kinds,
        "eval": ev,
        "protocols": ps.summary().to_dict(orient="records") if ps is not None else [],
        "test_lists": lists,
        "data": {k: v for k, v in dict(cfg.get("data") or {}).items()},
        "wall_time_s": time.perf_counter() - t0,
    }
    paired = None if ps is None else save_and_compare(out, ps.trials, trial_scores, ev["paired_n_boot"], ev["seed"])
    write_benchmark_outputs(out, pd.concat(tables, ignore_index=True), pd.DataFrame(runs), headline, meta, paired)
    return out


def _trainable(recipe: Mapping[str, Any]) -> bool:
    """Is the recipe's method trained (several seeds) rather than fitted (once, e.g. ``cca``, ``plda``)?"""
    name = str((recipe.get("method") or {}).get("name", ""))
    if not name or ":" in name:
        return True
    try:
        return bool(getattr(METHODS.get(name), "trainable", True))
    except KeyError:
        return True


def _plda_rows(spec, labels: Sequence[str]) -> set[str]:
    """Methods that get a ``<method>+plda`` row: ``backend_rows: all`` or a list of method names."""
    if not spec:
        return set()
    if spec == "all":
        return set(labels)
    unknown = sorted(set(spec) - set(labels))
    if unknown:
        raise BenchmarkError(f"backend_rows names {unknown}, which are not methods of this benchmark {list(labels)}")
    return set(spec)


def too_few_test_identities(manifest: pd.DataFrame) -> str:
    """Why no trial could be built: the test identities (with both modalities) of each test split."""
    parts = []
    for split in TEST_SPLITS:
        m = manifest[manifest["split"] == split]
        if len(m):
            both = set(m.loc[m["modality"] == "face", "identity"]) & set(m.loc[m["modality"] == "voice", "identity"])
            parts.append(f"{split}: {len(both)} identit{'y' if len(both) == 1 else 'ies'} with both modalities")
    return (
        f"no verification trial or 1:N gallery can be built ({'; '.join(parts)}): they need at least 2 test "
        "identities with faces and voices; split off more test identities, or repeat over identity folds "
        "(--folds K)"
    )


def lists_table(results: Mapping[str, Mapping[str, Any]], method: str, seed: int) -> pd.DataFrame:
    """Long-table rows (split = list name, constraint ``list``) from ``test_lists.json`` of a run."""
    rows = [
        {"protocol": "verification", "split": name, "direction": "v2f", "constraint": "list", "n": r["n_trials"]}
        | {"metric": metric, "value": float(r[metric]), "method": method, "seed": seed}
        for name, r in results.items()
        for metric in ("eer", "auc", "reference_eer")
    ]
    return pd.DataFrame(rows)


def _run_row(name: str, seed: int, run_dir: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "method": name,
        "seed": seed,
        "run_dir": str(run_dir),
        "status": info.get("status"),
        "epochs": info.get("epoch"),
        "best_epoch": info.get("best_epoch"),
        "best_val_eer": (info.get("best_val") or {}).get("val_eer"),
        "time_per_epoch_s": info.get("time_per_epoch_s", info.get("fit_time_s")),
        "samples_per_s": info.get("samples_per_s"),
        "n_trainable_parameters": info.get("n_trainable_parameters"),
        "wall_time_s": info.get("wall_time_s"),
    }


def run_benchmark_recipe(
    spec: str,
    overrides: Sequence[str] = (),
    *,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    data: str | None = None,
    face_csv: str | None = None,
    voice_csv: str | None = None,
    tests: Sequence[str] = (),
) -> Path:
    """What ``facevoice benchmark`` runs: :func:`load_benchmark`, the data replaced if asked
    (:func:`~facevoice.pipelines.recipes.replace_data`), then :func:`run_benchmark`; returns ``out``."""
    cfg = load_benchmark(spec, list(methods) if methods else None, seeds, list(overrides))
    if data or face_csv or voice_csv or tests:
        cfg = replace_data(cfg, bundle=data, face_csv=face_csv, voice_csv=voice_csv, tests=tests, overrides=overrides)
    if out:
        cfg["out"] = str(out)
    return run_benchmark(cfg, progress=progress)
