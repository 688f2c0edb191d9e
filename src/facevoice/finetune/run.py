"""`facevoice finetune`: contrastive training of a dual encoder with optional LoRA, several seeds.

One function, :func:`finetune`, runs the same way in one process and under ``torchrun`` /
``accelerate launch`` (data parallel, gloo on CPU, NCCL on GPU). ``train.batch_size`` is the
*global* batch: each of the ``W`` processes takes a ``batch_size / W`` slice of the same global
batch, the projected embeddings are all-gathered (with gradients) and every process computes the
InfoNCE of the whole global batch. The all-gather's backward sums the ``W`` identical losses'
gradients and DDP averages over processes, so the update equals the single-process update on the
same global batch. The documented single-process equivalent of a ``W``-process run is therefore the
same config and seed in one process (with dropout at 0; dropout masks are per-process random).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from facevoice.core.config import dump_config
from facevoice.core.log import get_logger
from facevoice.core.seeding import seed_everything
from facevoice.data.manifest import read_manifest, validate_manifest
from facevoice.finetune.budget import parameter_report
from facevoice.finetune.cache import InputCache, build_input_cache
from facevoice.finetune.config import resolve_finetune_config
from facevoice.finetune.data import PairCollator, PairDataset, carve_validation, plan_pairs
from facevoice.finetune.distributed import gather_with_grad, make_accelerator, rank_spread
from facevoice.finetune.evaluate import (
    build_test_protocols,
    embed_items,
    evaluate_protocol_set,
    flatten_results,
    score_all_pairs,
)
from facevoice.finetune.lora import missing_lora_gradients
from facevoice.finetune.model import build_dual_encoder, build_encoders

log = get_logger(__name__)
MODS = ("voice", "face")


def finetune(cfg: Mapping[str, Any], run_dir: str | Path) -> dict[str, Any]:
    """Train ``cfg["seeds"]`` runs, select each on validation identities, test, and summarise.

    Writes ``run_dir/config.yaml``, ``protocols/`` (the test lists), ``seed_<s>/`` (adapters in peft
    format, ``heads.safetensors``, ``state_last.safetensors``, ``metrics.jsonl``, ``test_results.csv``,
    ``result.json``), ``results.json`` (per-seed results, mean ± std) and ``summary.csv``.
    Returns the ``results.json`` content.
    """

    cfg = resolve_finetune_config(cfg)
    run_dir = Path(run_dir)
    acc = make_accelerator(cfg["train"])
    if acc.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, run_dir / "config.yaml")
    manifest = carve_validation(_load_manifest(cfg["manifest"]), cfg["data"]["val_fraction"], cfg["data"]["split_seed"])
    encoders = build_encoders(cfg)
    cache_root = Path(cfg["data"]["cache_dir"] or run_dir / "inputs")
    caches: dict[str, InputCache] = {}
    with acc.main_process_first():  # the main process builds, the others then open the same folders
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
    if acc.is_main_process and protocols is not None:
        protocols.save(run_dir / "protocols")
    results = []
    for seed in cfg["seeds"]:
        seed_everything(int(seed))
        model = build_dual_encoder(cfg, encoders)
        report = parameter_report(model)
        res = train_one_seed(cfg, model, usable, caches, protocols, int(seed), run_dir / f"seed_{seed}", acc)
        res["parameters"] = report
        results.append(res)
        if acc.is_main_process:
            (run_dir / f"seed_{seed}" / "result.json").write_text(json.dumps(res, indent=1, default=_jsonable))
    summary = {"setting": cfg["lora"]["setting"], "seeds": list(cfg["seeds"]), "runs": results}
    summary["summary"] = summarize_runs(results)
    summary["skipped"] = {m: c.skips.to_dict("records") for m, c in caches.items() if len(c.skips)}
    summary["world_size"] = acc.num_processes
    if acc.is_main_process:
        (run_dir / "results.json").write_text(json.dumps(summary, indent=1, default=_jsonable))
        rows = [{"metric": k, **v} for k, v in summary["summary"].items()]
        pd.DataFrame(rows).to_csv(run_dir / "summary.csv", index=False)
    acc.wait_for_everyone()
    return summary


def train_one_seed(
    cfg: Mapping[str, Any],
    model: Any,
    manifest: pd.DataFrame,
    caches: Mapping[str, Any],
    protocols: Any,
    seed: int,
    out: Path,
    acc: Any,
) -> dict[str, Any]:
    """Train one seed; returns the validation history, the selected epoch and its test figures."""
    from torch.utils.data import DataLoader

    tr, dcfg = cfg["train"], cfg["data"]
    plan = plan_pairs(manifest, "train", caches["voice"], caches["face"])
    n_val = len(plan_pairs(manifest, "val", caches["voice"], caches["face"]).identities)
    if n_val < 2:
        raise ValueError(f"checkpoint selection needs >= 2 validation identities with both modalities, got {n_val}")
    sr = int(model.voice.sample_rate or 16000)
    crop = None if dcfg["crop_seconds"] is None else int(round(float(dcfg["crop_seconds"]) * sr))
    dataset = PairDataset(plan, caches["voice"], caches["face"], crop, seed, dcfg["pairs_per_epoch"])
    bs = int(tr["batch_size"])
    if bs % acc.num_processes:
        raise ValueError(f"train.batch_size {bs} must be divisible by the number of processes {acc.num_processes}")
    if len(dataset) < bs:
        raise ValueError(f"{len(dataset)} training pairs per epoch < train.batch_size {bs}")
    collate = PairCollator(model.voice.processor, model.face.processor, sr)
    loader = DataLoader(
        dataset, batch_size=bs, shuffle=False, drop_last=True, collate_fn=collate, num_workers=int(dcfg["num_workers"])
    )
    optimizer = _optimizer(model, tr)
    steps = len(dataset) // bs * int(tr["epochs"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(steps, int(tr["warmup_steps"])))
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    core = acc.unwrap_model(model)
    trainable = [p for p in core.parameters() if p.requires_grad]
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val_eer": math.inf}
    metrics_path = out / "metrics.jsonl"
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        metrics_path.write_text("")
    step, t_train, n_seen = 0, 0.0, 0
    for epoch in range(1, int(tr["epochs"]) + 1):
        dataset.set_epoch(epoch)
        model.train()
        t0, losses = time.perf_counter(), []
        for batch in loader:
            v, f = model(batch["voice"], batch["face"])
            labels = batch["labels"]
            if acc.num_processes > 1:
                v, f, labels = gather_with_grad(v), gather_with_grad(f), acc.gather(labels)
            terms = core.loss(v.float(), f.float(), labels)
            acc.backward(terms["loss"])
            if step == 0:
                missing = missing_lora_gradients(core)
                if missing:
                    raise RuntimeError(f"{len(missing)} LoRA parameter(s) got no gradient, e.g. {missing[:3]}")
            if tr["grad_clip"]:
                acc.clip_grad_norm_(trainable, float(tr["grad_clip"]))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            n_seen += bs
            losses.append(terms["loss"].detach().item())
        t_train += time.perf_counter() - t0
        row = {"epoch": epoch, "step": step, "loss": float(np.mean(losses)), "temperature": core.loss.temperature}
        if epoch % int(tr["eval_every"]) == 0 or epoch == int(tr["epochs"]):
            emb = _embed_splits(core, manifest, caches, ["val"], cfg, acc)
            by_id = [dict(zip(*emb[m], strict=True)) for m in MODS]
            val = score_all_pairs(manifest[manifest["split"] == "val"], *by_id, "val")
            row.update(val_eer=val["all_pairs_eer"], val_auc=val["all_pairs_auc"])
            if row["val_eer"] < best["val_eer"]:
                best = {"val_eer": row["val_eer"], "epoch": epoch, "state": core.trainable_state()}
        history.append(row)
        if acc.is_main_process:
            with metrics_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            log.info(
                "seed %d epoch %d: %s", seed, epoch, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)}
            )
    last_state = core.trainable_state()
    sync = rank_spread(last_state, acc)
    core.load_trainable_state(best["state"])
    tests: dict[str, float] = {}
    if protocols is not None:
        emb = _embed_splits(core, manifest, caches, protocols.meta["splits"], cfg, acc)
        table = evaluate_protocol_set(protocols, emb["voice"], emb["face"])
        tests = flatten_results(table)
    if acc.is_main_process:
        _save(core, out, last_state, cfg)
        if protocols is not None:
            table.to_csv(out / "test_results.csv", index=False)
    acc.wait_for_everyone()
    acc.free_memory()
    return {
        "seed": seed,
        "best_epoch": best["epoch"],
        "val_eer": best["val_eer"],
        "test": tests,
        "history": history,
        "train_samples_per_s": n_seen / max(t_train, 1e-9),
        "n_train_pairs_per_epoch": len(dataset),
        "rank_sync_max_abs_diff": sync,
        "dropped_train_identities": plan.dropped,
    }


def _embed_splits(core, manifest, caches, splits, cfg, acc) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"voice": (ids, X (N, D)), "face": (ids, X)}`` of the cached items of ``splits``."""

    names = {s.split(":")[0] for s in splits}  # language subsets ("test_unseen:heard") share their split's items
    pool = manifest[manifest["split"].isin(names)]
    out = {}
    for modality, branch in (("voice", core.voice), ("face", core.face)):
        ids = [i for i in pool.loc[pool["modality"] == modality, "item_id"] if i in caches[modality]]
        out[modality] = (
            ids,
            embed_items(core, branch, caches[modality], ids, int(cfg["train"]["eval_batch_size"]), acc),
        )
    return out


def _optimizer(model: Any, tr: Mapping[str, Any]) -> torch.optim.Optimizer:
    lora = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    temp = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("loss.")]
    heads = [
        p for n, p in model.named_parameters() if p.requires_grad and "lora_" not in n and not n.startswith("loss.")
    ]
    groups = [{"params": heads, "lr": float(tr["lr_head"]), "weight_decay": float(tr["weight_decay"])}]
    if lora:
        groups.append({"params": lora, "lr": float(tr["lr_lora"]), "weight_decay": float(tr["weight_decay_lora"])})
    if temp:
        groups.append({"params": temp, "lr": float(tr["lr_head"]), "weight_decay": 0.0})
    return torch.optim.AdamW(groups, betas=(0.9, 0.98), eps=1e-6)


def _warmup_cosine(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return f


def _save(core: Any, out: Path, last_state: Mapping[str, torch.Tensor], cfg: Mapping[str, Any]) -> None:
    from safetensors.torch import save_file

    for branch in (core.voice, core.face):
        if branch.has_lora:
            branch.model.save_pretrained(str(out / f"{branch.modality}_adapter"))
    heads = {f"voice_head.{k}": v for k, v in core.voice_head.state_dict().items()}
    heads.update({f"face_head.{k}": v for k, v in core.face_head.state_dict().items()})
    heads["loss.log_scale"] = core.loss.log_scale.detach()
    meta = {"model": json.dumps(cfg["model"]), "lora": json.dumps(cfg["lora"])}
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in heads.items()}, str(out / "heads.safetensors"), metadata=meta
    )
    save_file({k: v.cpu().contiguous() for k, v in last_state.items()}, str(out / "state_last.safetensors"))


def summarize_runs(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± sample std (ddof=1; 0 for one seed) over seeds of the validation EER, the training
    throughput and every test figure (``<split>/<protocol>/<direction>/<constraint>/<metric>``)."""
    flat: dict[str, list[float]] = {}
    for r in results:
        items = {"val_eer": r["val_eer"], "train_samples_per_s": r["train_samples_per_s"], **r["test"]}
        for k, v in items.items():
            flat.setdefault(k, []).append(float(v))
    return {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}
        for k, v in flat.items()
    }


def _load_manifest(src: Any) -> pd.DataFrame:

    if isinstance(src, pd.DataFrame):
        return validate_manifest(src)
    if not src:
        raise ValueError("config has no manifest path")
    return read_manifest(src)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    return str(obj)
