"""Kill anywhere: a `facevoice finetune` process SIGKILLed at random moments (in seed 0, then in seed 1)
and resumed with `--resume` ends with the same adapters, heads, metrics and test figures as a run
never interrupted; the finished seed is not trained again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml
from finetune_media import tiny_config, write_media
from safetensors.torch import load_file

from facevoice.data.manifest import write_manifest
from facevoice.finetune.run import finetune
from kill_process import count_lines, facevoice_cmd, kill_during, kill_rng, run_to_end

STRIP = ("train_time_s", "samples_per_s", "val_time_s")


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _same_tensors(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for k in a:
        assert torch.equal(a[k], b[k]), f"{what}: {k} differs"


def _metrics(seed_dir: Path) -> list[dict]:
    rows = [json.loads(x) for x in (seed_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in STRIP} for r in rows]


def test_finetune_killed_twice_then_resumed_is_bit_identical(tmp_path):
    rng, kill_seed = kill_rng()
    write_manifest(write_media(tmp_path / "media", n_ids=8, per_id=4, seconds=0.5), tmp_path / "manifest.parquet")
    cfg = tiny_config(tmp_path / "manifest.parquet", "both", epochs=4, lr_head=3e-3)
    cfg["seeds"] = [0, 1]
    cfg["model"]["head_dropout"] = 0.2  # dropout masks must come back from the resumed RNG state
    cfg["lora"]["dropout"] = 0.1
    cfg["eval"]["gallery_sizes"] = [2]
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    ref = tmp_path / "ref"
    finetune(cfg, ref)
    rows = [json.loads(x) for x in (ref / "seed_0" / "metrics.jsonl").read_text().splitlines()]
    epoch_s = float(np.mean([r["train_time_s"] + r["val_time_s"] for r in rows]))

    out = tmp_path / "killed"
    cmd = facevoice_cmd("finetune", str(tmp_path / "cfg.yaml"), "--run-dir", str(out), "--no-progress")
    context = f"FACEVOICE_KILL_SEED={kill_seed}"
    kill_during(
        cmd, lambda: count_lines(out / "seed_0" / "metrics.jsonl") > 0, epoch_s, rng, tmp_path / "a.log", context
    )
    assert not (out / "seed_0" / "result.json").exists(), context
    resume = [*cmd, "--resume"]
    kill_during(
        resume, lambda: count_lines(out / "seed_1" / "metrics.jsonl") > 0, epoch_s, rng, tmp_path / "b.log", context
    )
    assert (out / "seed_0" / "result.json").exists() and not (out / "seed_1" / "result.json").exists(), context
    done = {p: p.stat().st_mtime_ns for p in (out / "seed_0").rglob("*") if p.is_file()}
    run_to_end(resume, tmp_path / "end.log")
    assert {p: p.stat().st_mtime_ns for p in (out / "seed_0").rglob("*") if p.is_file()} == done, "seed 0 was redone"

    for seed in (0, 1):
        a, b = ref / f"seed_{seed}", out / f"seed_{seed}"
        for which in ("best", "last"):  # LoRA of both encoders, heads, temperature
            _same_tensors(
                _tensors(a / "checkpoints" / which / "model.safetensors"),
                _tensors(b / "checkpoints" / which / "model.safetensors"),
                f"{context} seed {seed} {which}",
            )
        for modality in ("voice", "face"):  # the exported peft adapters
            _same_tensors(
                _tensors(a / f"{modality}_adapter" / "adapter_model.safetensors"),
                _tensors(b / f"{modality}_adapter" / "adapter_model.safetensors"),
                f"{context} seed {seed} {modality} adapter",
            )
        assert _metrics(a) == _metrics(b), context
        ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
        assert ra["test"] == rb["test"] and len(ra["test"]) > 10, context
        assert (ra["best_epoch"], ra["val_eer"]) == (rb["best_epoch"], rb["val_eer"]), context
    sa, sb = (json.loads((d / "results.json").read_text())["summary"] for d in (ref, out))
    sa.pop("train_samples_per_s")
    sb.pop("train_samples_per_s")
    assert sa == sb, context
