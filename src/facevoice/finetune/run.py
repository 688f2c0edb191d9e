"""`facevoice finetune`: contrastive training of a dual encoder with optional LoRA, several seeds, resumable.

:func:`finetune` prepares the data once (validation identities carved if the manifest has none, the
input cache, the test protocol lists) and trains every seed with the one training engine
(:class:`facevoice.train.trainer.Trainer`): the same loop, checkpoint format, validation-only
selection, ``metrics.jsonl`` and exact resume as the head methods. Each seed's folder is an engine
run directory; after training, the selected checkpoint is scored on the test protocols and exported
as peft adapters. ``resume=True`` (``--resume``) reuses finished seeds and continues an interrupted
one from its last checkpoint, bit for bit.

It runs the same way in one process and under ``torchrun`` / ``accelerate launch`` (data parallel,
gloo on CPU, NCCL on GPU): ``train.batch_size`` is the *global* batch, each of the ``W`` processes
takes a ``batch_size / W`` slice of it (see :class:`~facevoice.finetune.trainable.DualEncoderTrainable`
for why the update equals the single-process one). Only the main process writes files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from facevoice.core.config import dump_config, load_config
from facevoice.core.files import write_atomic, write_json_atomic
from facevoice.core.log import get_logger
from facevoice.core.seeding import seed_everything
from facevoice.data.manifest import read_manifest, validate_manifest
from facevoice.data.splits import carve_validation
from facevoice.finetune.budget import parameter_report
from facevoice.finetune.cache import InputCache, build_input_cache
from facevoice.finetune.config import comparable_finetune_config, engine_config, resolve_finetune_config
from facevoice.finetune.data import PairCollator, PairDataset, plan_pairs
from facevoice.finetune.evaluate import (
    PairValidation,
    build_test_protocols,
    embed_splits,
    evaluate_protocol_set,
    flatten_results,
)
from facevoice.finetune.model import DualEncoder, build_dual_encoder, build_encoders
from facevoice.finetune.trainable import DualEncoderTrainable, PairBatches
from facevoice.runs.checkpoint import read_checkpoint, resolve_checkpoint
from facevoice.train.distributed import AccelerateContext, rank_spread
from facevoice.train.provenance import git_sha
from facevoice.train.resume import check_resumable
from facevoice.train.trainer import Trainer, read_metrics

log = get_logger(__name__)
MODS = ("voice", "face")


def finetune(cfg: Mapping[str, Any], run_dir: str | Path, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg["seeds"]`` runs, select each on validation identities, test, and summarise.

    Writes ``run_dir/config.yaml``, ``inputs/`` (the input cache, unless ``data.cache_dir``),
    ``protocols/`` (the test lists), ``seed_<s>/`` (an engine run directory: ``run.json``,
    ``metrics.jsonl``, ``checkpoints/{last,best}``; then the selected epoch's ``voice_adapter/`` /
    ``face_adapter/`` in peft format, ``test_results.csv``, ``result.json``), ``results.json``
    (per-seed results, mean ± std) and ``summary.csv``. Returns the ``results.json`` content.

    A folder that already holds a run needs ``resume=True``, which refuses another configuration or
    other data (:func:`facevoice.train.resume.check_resumable`; seeds may be added).
    """

    cfg = resolve_finetune_config(cfg)
    run_dir = Path(run_dir)
    context = AccelerateContext(str(cfg["train"]["device"]), str(cfg["train"]["mixed_precision"]))
    given = _load_manifest(cfg["manifest"])
    fingerprint = {"manifest_sha256": _manifest_sha256(given)}
    if resume:  # the configuration once, the data of every seed already started
        check_resumable(run_dir, cfg, comparable=comparable_finetune_config)
        for seed_dir in _started_seeds(run_dir):
            check_resumable(seed_dir, {}, fingerprint)
    elif _started_seeds(run_dir):
        raise FileExistsError(f"{run_dir} already holds a finetune run: resume it (--resume) or choose another run dir")
    if context.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        src = cfg["manifest"]
        dump_config(
            {**cfg, "manifest": "<DataFrame>" if isinstance(src, pd.DataFrame) else str(src)}, run_dir / "config.yaml"
        )
    manifest, carved = given, []
    if not (given["split"] == "val").any() and float(cfg["data"]["val_fraction"]) > 0:
        manifest, carved = carve_validation(given, float(cfg["data"]["val_fraction"]), int(cfg["data"]["split_seed"]))
    encoders = build_encoders(cfg)
    cache_root = Path(cfg["data"]["cache_dir"] or run_dir / "inputs")
    caches: dict[str, InputCache] = {}
    with context.main_process_first():  # the main process builds, the others then open the same folders
        for modality, enc in encoders.items():
            rows = manifest[manifest["modality"] == modality]
            proc = enc.backbone.processor if modality == "face" else None
            caches[modality] = build_input_cache(cache_root / modality, enc, rows, frame_processor=proc)
    for modality, cache in caches.items():
        if len(cache) == 0:
            reasons = cache.skips["reason"].value_counts().to_dict()
            raise ValueError(f"no {modality} item could be loaded into {cache.root}: skip reasons {reasons}")
    cached = manifest["item_id"].isin(set(caches["voice"].ids()) | set(caches["face"].ids()))
    usable = manifest[cached].reset_index(drop=True)  # skipped items are reported in results.json
    protocols = build_test_protocols(usable, list(cfg["eval"]["splits"]), cfg["eval"])
    if context.is_main_process and protocols is not None:
        protocols.save(run_dir / "protocols")
    provenance = {"data": {**fingerprint, "encoder_tags": {m: e.tag for m, e in encoders.items()}}}
    provenance.update(carved_val_identities=carved, git_sha=git_sha(), torch=torch.__version__)
    results = []
    for seed in cfg["seeds"]:
        out = run_dir / f"seed_{seed}"
        res = train_one_seed(cfg, encoders, usable, caches, protocols, int(seed), out, context, resume, provenance)
        results.append(res)
    summary = {"setting": cfg["lora"]["setting"], "seeds": list(cfg["seeds"]), "runs": results}
    summary["summary"] = summarize_runs(results)
    summary["skipped"] = {m: c.skips.to_dict("records") for m, c in caches.items() if len(c.skips)}
    summary["world_size"] = context.num_processes
    if context.is_main_process:
        write_json_atomic(run_dir / "results.json", summary, indent=1)
        rows = [{"metric": k, **v} for k, v in summary["summary"].items()]
        write_atomic(run_dir / "summary.csv", pd.DataFrame(rows).to_csv(index=False))
    context.wait_for_everyone()
    return summary


def train_one_seed(
    cfg: Mapping[str, Any],
    encoders: Mapping[str, Any],
    manifest: pd.DataFrame,
    caches: Mapping[str, InputCache],
    protocols: Any,
    seed: int,
    out: Path,
    context: Any,
    resume: bool = False,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one seed into ``out`` through the engine; test the selected checkpoint; return ``result.json``.

    With ``resume``, a seed whose ``result.json`` exists is not trained again (its result is read back).
    """
    if resume and (out / "result.json").exists():
        log.info("seed %d: reusing the finished run in %s", seed, out)
        return _read_json(out / "result.json")
    tr, dcfg = cfg["train"], cfg["data"]
    seed_everything(seed)
    model = build_dual_encoder(cfg, encoders)
    trainable = DualEncoderTrainable(model, tr)
    tcfg = engine_config(cfg, seed)
    plan = plan_pairs(manifest, "train", caches["voice"], caches["face"])
    sr = int(model.voice.sample_rate or 16000)
    crop = None if dcfg["crop_seconds"] is None else int(round(float(dcfg["crop_seconds"]) * sr))
    dataset = PairDataset(plan, caches["voice"], caches["face"], crop, seed, dcfg["pairs_per_epoch"])
    bs = int(tr["batch_size"])
    if bs % context.num_processes:
        raise ValueError(f"train.batch_size {bs} must be divisible by the number of processes {context.num_processes}")
    if len(dataset) < bs:
        raise ValueError(f"{len(dataset)} training pairs per epoch < train.batch_size {bs}")
    collate = PairCollator(model.voice.processor, model.face.processor, sr)
    batches = PairBatches(dataset, collate, bs, int(dcfg["num_workers"]), context)
    validator = None
    if tcfg.selection == "val":
        validator = PairValidation(manifest, caches, int(tr["eval_batch_size"]), context, tcfg.val_metric)
    info: dict[str, Any] = {
        "kind": "finetune",
        "seed": seed,
        "setting": cfg["lora"]["setting"],
        "selection": tcfg.selection,
        "val_metric": tcfg.val_metric,
        "parameters": parameter_report(model),
        "n_train_pairs_per_epoch": len(dataset),
        "dropped_train_identities": plan.dropped,
        "world_size": context.num_processes,
        **dict(provenance or {}),
        "status": "running",
    }
    if context.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "run.json", info)
    summary = Trainer(trainable, batches, validator, out, tcfg, context).fit(resume=resume)
    sync = rank_spread(model.trainable_state(), context)
    weights, _, _ = read_checkpoint(out / "checkpoints" / "best")
    trainable.load_checkpoint_weights(weights)  # the selected epoch, for the test figures and the adapters
    tests: dict[str, float] = {}
    table = None
    if protocols is not None:
        emb = embed_splits(model, manifest, caches, protocols.meta["splits"], int(tr["eval_batch_size"]), context)
        table = evaluate_protocol_set(protocols, emb["voice"], emb["face"])
        tests = flatten_results(table)
    history = read_metrics(out / "metrics.jsonl")
    best = _read_json(out / "checkpoints" / "best.json") if (out / "checkpoints" / "best.json").exists() else {}
    result = {
        "seed": seed,
        "status": summary["status"],
        "best_epoch": summary["best_epoch"],
        "val_eer": best.get("val_eer"),
        "best_val": {k: v for k, v in best.items() if k.startswith("val_")},
        "test": tests,
        "history": history,
        "train_samples_per_s": float(np.mean([h["samples_per_s"] for h in history])) if history else None,
        "n_train_pairs_per_epoch": len(dataset),
        "rank_sync_max_abs_diff": sync,
        "dropped_train_identities": plan.dropped,
        "parameters": info["parameters"],
    }
    if context.is_main_process:
        export_adapters(model, out)
        if table is not None:
            write_atomic(out / "test_results.csv", table.to_csv(index=False))
        write_json_atomic(out / "run.json", {**info, **summary, "best_val": result["best_val"]})
        write_json_atomic(out / "result.json", result, indent=1)  # last: its presence marks the seed as done
    context.wait_for_everyone()
    return result


def export_adapters(model: DualEncoder, out: Path) -> None:
    """Save the LoRA of each adapted branch in peft format (``<modality>_adapter/``, loadable with
    ``PeftModel.from_pretrained``), through a temporary folder swapped in by rename."""
    for branch in (model.voice, model.face):
        if not branch.has_lora:
            continue
        target = out / f"{branch.modality}_adapter"
        tmp = out / f".{branch.modality}_adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        branch.model.save_pretrained(str(tmp))
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)


def load_finetuned(run_dir: str | Path, seed: int, which: str = "best") -> DualEncoder:
    """The :class:`DualEncoder` of ``run_dir``'s ``seed`` with its ``best`` (or ``last``) checkpoint, in eval mode.

    Rebuilt from the run's ``config.yaml`` (the frozen encoders from their sources) and the checkpoint's
    trainable tensors.
    """
    run_dir = Path(run_dir)
    cfg = resolve_finetune_config(load_config(run_dir / "config.yaml"))
    model = build_dual_encoder(cfg)
    weights, _, _ = read_checkpoint(run_dir / f"seed_{seed}" / "checkpoints" / which)
    model.load_trainable_state(weights)
    return model.eval()


def summarize_runs(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± sample std (ddof=1; 0 for one seed) over seeds of the validation EER, the training
    throughput and every test figure (``<split>/<protocol>/<direction>/<constraint>/<metric>``)."""
    flat: dict[str, list[float]] = {}
    for r in results:
        items = {"val_eer": r["val_eer"], "train_samples_per_s": r["train_samples_per_s"], **r["test"]}
        for k, v in items.items():
            if v is not None:
                flat.setdefault(k, []).append(float(v))
    return {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}
        for k, v in flat.items()
    }


def _started_seeds(run_dir: Path) -> list[Path]:
    """Seed folders of ``run_dir`` holding a checkpoint or a result (a run that ``resume`` would continue)."""
    return sorted(
        d
        for d in run_dir.glob("seed_*")
        if (d / "result.json").exists() or resolve_checkpoint(d / "checkpoints" / "last") is not None
    )


def _manifest_sha256(manifest: pd.DataFrame) -> str:
    return hashlib.sha256(manifest.to_csv(index=False).encode()).hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _load_manifest(src: Any) -> pd.DataFrame:
    if isinstance(src, pd.DataFrame):
        return validate_manifest(src)
    if not src:
        raise ValueError("config has no manifest path")
    return read_manifest(src)
