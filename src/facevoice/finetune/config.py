"""Defaults of a `facevoice finetune` recipe (the paper does not publish its hyper-parameters).

Every key can be set in the YAML recipe or overridden on the command line (``--set train.lr_lora=5e-5``).
Unknown keys in the known sections are rejected, so a typo cannot silently fall back to a default.

:func:`engine_config` turns the ``train:`` section into the :class:`~facevoice.train.config.TrainConfig`
of the one training engine (``eval_every`` is its ``val_every``); :func:`comparable_finetune_config`
is what ``--resume`` compares with the stored ``config.yaml``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import yaml

from facevoice.core.config import deep_merge
from facevoice.train.config import TrainConfig

DEFAULTS: dict[str, Any] = {
    "manifest": None,  # parquet/csv manifest with train / val / test splits
    "seeds": [0, 1, 2],
    "voice_encoder": {"name": "wavlm", "source": "microsoft/wavlm-large", "max_seconds": 8.0},
    "face_encoder": {
        "name": "siglip",
        "source": "google/siglip-base-patch16-224",
        "pooling": "pooler",
        "detect_faces": False,
    },
    "lora": {
        "setting": "face",  # none | face | voice | both
        "rank": 8,
        "alpha": 16,
        "dropout": 0.05,
        "targets": "all",  # preset (qv, qkv, attn, ffn, all) or list of roles / leaf names
        "layers": None,  # None = every transformer layer
    },
    "model": {
        "embed_dim": 256,
        "head_hidden": 512,
        "head_dropout": 0.1,
        "temperature": 0.07,
        "learnable_temperature": True,
        "same_identity": "mask",  # off-diagonal same-identity pairs: mask | positive | ignore
    },
    "data": {
        "cache_dir": None,  # pre-processed inputs; default <run_dir>/inputs (reused when it exists)
        "crop_seconds": 3.0,  # random voice crop for training (None = whole item)
        "pairs_per_epoch": None,  # None = one pair per training voice item
        "val_fraction": 0.1,  # carved from training identities when the manifest has no val split
        "split_seed": 0,
        "num_workers": 0,
    },
    "train": {
        "epochs": 10,
        "batch_size": 64,  # global batch (all processes together)
        "lr_head": 1e-3,
        "lr_lora": 1e-4,
        "weight_decay": 0.01,
        "weight_decay_lora": 0.0,
        "warmup_steps": 50,
        "grad_clip": 1.0,
        "eval_every": 1,  # epochs between validation passes (checkpoint selection)
        "eval_batch_size": 32,
        "mixed_precision": "no",  # no | bf16 | fp16 (GPU)
        "device": "auto",  # auto | cpu
        "selection": "val",  # val (best validation epoch) | last
        "val_metric": "eer",  # eer | auc | auc_mean (facevoice.train.validation)
        "patience": None,  # stop after this many validations without improvement (None: never)
        "progress": True,  # progress bar
    },
    "eval": {
        "splits": ["test_unseen", "test_seen", "test"],
        "trial_seed": 0,
        "n_neg": 1,
        "constraints": ["random", "G", "N", "A", "GNA"],
        "gallery_sizes": [2, 3, 4, 5, 6, 7, 8, 9, 10],
    },
}


def resolve_finetune_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults merged under ``cfg``; raises on unknown keys in the fixed sections."""
    for section in ("lora", "model", "data", "train", "eval"):
        given = cfg.get(section) or {}
        if not isinstance(given, Mapping):
            raise ValueError(f"config section {section!r} must be a mapping, got {type(given).__name__}")
        unknown = sorted(set(given) - set(DEFAULTS[section]) - ({"face", "voice"} if section == "lora" else set()))
        if unknown:
            raise ValueError(f"unknown key(s) in {section}: {unknown}; known: {sorted(DEFAULTS[section])}")
    unknown_top = sorted(set(cfg) - set(DEFAULTS))
    if unknown_top:
        raise ValueError(f"unknown top-level key(s) {unknown_top}; known: {sorted(DEFAULTS)}")
    out = copy.deepcopy(DEFAULTS)
    for key, value in cfg.items():
        if key in ("voice_encoder", "face_encoder") and value is not None:
            out[key] = copy.deepcopy(dict(value))  # an encoder section replaces the default one whole
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    if isinstance(out["seeds"], int):
        out["seeds"] = [out["seeds"]]
    return out


#: keys that do not change what a run computes (``--resume`` may change them)
VOLATILE_KEYS = {"seeds": None, "manifest": None, "data": ("cache_dir", "num_workers"), "train": ("progress",)}


def engine_config(cfg: Mapping[str, Any], seed: int) -> TrainConfig:
    """The training engine's settings for one seed of a resolved finetune config."""
    tr = cfg["train"]
    if tr["selection"] not in ("val", "last"):
        raise ValueError(f"train.selection must be 'val' or 'last' for finetune, got {tr['selection']!r}")
    return TrainConfig(
        epochs=int(tr["epochs"]),
        batch_size=int(tr["batch_size"]),
        seed=int(seed),
        selection=str(tr["selection"]),
        grad_clip=tr["grad_clip"],
        device=str(tr["device"]),
        num_threads=None,
        val_metric=str(tr["val_metric"]),
        val_every=int(tr["eval_every"]),
        patience=tr["patience"],
        progress=bool(tr["progress"]),
    )


def comparable_finetune_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` resolved against the defaults, without :data:`VOLATILE_KEYS` and ``_*`` keys, as plain YAML
    values. The seeds list is volatile because each seed is its own run (a resume may add seeds); the
    manifest path because its content is compared by hash (a moved manifest is the same data)."""
    out = resolve_finetune_config({k: v for k, v in cfg.items() if not str(k).startswith("_")})
    for section, keys in VOLATILE_KEYS.items():
        if keys is None:
            out.pop(section, None)
        else:
            for key in keys:
                out[section].pop(key, None)
    return yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(out, default=str)), sort_keys=True))
