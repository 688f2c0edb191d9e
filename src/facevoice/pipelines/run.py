"""``train(config) -> run_dir``: one recipe, one seed, one reproducible run directory.

Run directory::

    config.yaml          the resolved recipe (after overrides)
    run.json             method, dims, classes, git sha, data fingerprint (manifest / embedding hashes,
                         encoder tags), inputs (per modality: the encoder to rebuild for new media, or
                         external features; facevoice.runs.inputs), selection (+ val_metric), status,
                         best epoch, mean time per epoch
    classes.json         class index -> training identity (and identities dropped for lack of a modality)
    metrics.jsonl        one line per epoch
    checkpoints/last/    weights + resume state;  checkpoints/best/  weights selected on validation

``load_method`` / ``embed_array`` (from :mod:`facevoice.runs.loading`) are re-exported here.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facevoice.core.config import dump_config
from facevoice.core.log import get_logger
from facevoice.core.seeding import seed_everything
from facevoice.core.threads import limit_threads
from facevoice.data.bundle import EmbeddingBundle
from facevoice.interop.feature_csv import check_feature_lists, evaluate_feature_lists
from facevoice.methods import create_method
from facevoice.methods.base import Method
from facevoice.pipelines.data_sources import bundle_fingerprint, load_data, split_bundle
from facevoice.runs.checkpoint import save_checkpoint
from facevoice.runs.inputs import inputs_from_bundle
from facevoice.runs.loading import embed_array, load_method
from facevoice.train.config import TrainConfig, comparable_config, config_differences
from facevoice.train.data import TrainData, carve_validation
from facevoice.train.trainer import Trainer
from facevoice.train.validation import ValidationSet

log = get_logger(__name__)
__all__ = ["embed_array", "load_method", "train", "train_and_embed"]


def method_section(config: Mapping[str, Any], tcfg: TrainConfig) -> tuple[str, dict[str, Any]]:
    """(method name, hyper-parameters) with ``train.lr`` / ``train.weight_decay`` applied."""
    section = dict(config.get("method") or {})
    name = section.pop("name", None)
    if not name:
        raise ValueError("recipe needs method.name (see facevoice.methods.METHODS)")
    if tcfg.lr is not None:
        section["lr"] = tcfg.lr
    if tcfg.weight_decay is not None:
        section["weight_decay"] = tcfg.weight_decay
    return str(name), section


def default_run_dir(config: Mapping[str, Any], method: str, seed: int) -> Path:
    safe = method.replace(":", "_").replace(".", "_")
    return Path("runs") / str(config.get("benchmark", "custom")) / safe / f"seed{seed}"


def git_sha() -> str:
    """Commit of the facevoice source tree (``+dirty`` when modified), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def prepare_selection(bundle: EmbeddingBundle, tcfg: TrainConfig) -> tuple[EmbeddingBundle, tuple[str, ...], list[str]]:
    """Bundle (with val identities carved from train if it had none), selection splits, carved ids."""
    if tcfg.selection == "test_reference":
        log.warning(
            "selection=test_reference: checkpoints are selected on the TEST identities (reference-code "
            "behaviour). Test figures of this run are optimistic and must not be reported as held-out results."
        )
        return bundle, ("test_unseen",), []
    if tcfg.selection == "last":
        return bundle, (), []
    if (bundle.manifest["split"] == "val").any():
        return bundle, ("val",), []
    bundle, carved = carve_validation(bundle, tcfg.val_fraction, tcfg.val_seed)
    log.info("no val identities in the data: %d training identities held out for selection", len(carved))
    return bundle, ("val",), carved


def train(
    config: Mapping[str, Any],
    *,
    bundle: EmbeddingBundle | None = None,
    run_dir: str | Path | None = None,
    resume: bool | None = None,
) -> Path:
    """Train (or fit) the recipe's method for ``train.seed``; return the run directory.

    ``bundle`` overrides the recipe's ``data:`` section (already loaded data); ``run_dir`` and
    ``resume`` override ``train.out`` / ``train.resume``.
    """
    config = dict(config)
    tcfg = TrainConfig.from_dict(config.get("train"))
    resume = tcfg.resume if resume is None else resume
    if bundle is None:
        bundle, _ = load_data(config.get("data") or {})
    if (config.get("data") or {}).get("tests"):  # parse every list now: a bad file fails before training
        d_face, d_voice = (int(bundle.embeddings[m].shape[1]) for m in ("face", "voice"))
        for name, n in check_feature_lists(config["data"], d_face, d_voice).items():
            log.info("test list %s: %d trials", name, n)
    name, hparams = method_section(config, tcfg)
    run_dir = Path(run_dir or tcfg.out or default_run_dir(config, name, tcfg.seed))
    device = tcfg.resolve_device()
    bundle, sel_splits, carved = prepare_selection(bundle, tcfg)
    seed_everything(tcfg.seed)
    data = TrainData.from_bundle(bundle, device=device)
    method = create_method(name, data.d_face, data.d_voice, data.n_classes, hparams).to(device)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {**config, "train": tcfg.to_dict()}
    fingerprint = bundle_fingerprint(bundle)
    if resume:
        check_resumable(run_dir, resolved, fingerprint)
    dump_config(resolved, run_dir / "config.yaml")
    info: dict[str, Any] = {
        "method": name,
        "method_class": f"{type(method).__module__}:{type(method).__qualname__}",
        "hparams": hparams,
        "d_face": data.d_face,
        "d_voice": data.d_voice,
        "n_classes": data.n_classes,
        "seed": tcfg.seed,
        "selection": tcfg.selection,
        "val_metric": tcfg.val_metric,
        "selection_splits": list(sel_splits),
        "carved_val_identities": carved,
        "git_sha": git_sha(),
        "torch": torch.__version__,
        "device": device,
        "data": fingerprint,
        "inputs": inputs_from_bundle(bundle),  # how new media becomes this run's input features
        "n_parameters": int(sum(p.numel() for p in method.parameters())),
        "n_trainable_parameters": int(sum(p.numel() for p in method.parameters() if p.requires_grad)),
        "status": "running",
    }
    classes = {"classes": data.classes, "dropped_identities": data.dropped}
    (run_dir / "classes.json").write_text(json.dumps(classes, indent=1))
    _write_json(run_dir / "run.json", info)
    t0 = time.perf_counter()
    with limit_threads(tcfg.num_threads):
        summary = _fit(method, data, bundle, run_dir, tcfg, sel_splits, device, resume)
    info.update(summary, wall_time_s=time.perf_counter() - t0, **_epoch_times(run_dir / "metrics.jsonl"))
    best = info.get("best_metric")
    if best is not None and not np.isfinite(best):
        info["best_metric"] = None
    best_json = run_dir / "checkpoints" / "best.json"
    if best_json.exists():  # the selected epoch's validation figures (EER, AUCs, val_metric)
        info["best_val"] = {k: v for k, v in json.loads(best_json.read_text()).items() if k.startswith("val_")}
    tests = (config.get("data") or {}).get("tests")
    if tests and info["status"] != "interrupted":
        _write_json(run_dir / "run.json", info)  # the training is finished even if scoring a list fails
        results = evaluate_feature_lists(load_method(run_dir, "best", device), config["data"], device)
        _write_json(run_dir / "test_lists.json", results)
        info["test_lists"] = {k: {"eer": v["eer"], "auc": v["auc"]} for k, v in results.items()}
    _write_json(run_dir / "run.json", info)
    return run_dir


def check_resumable(run_dir: Path, resolved: Mapping[str, Any], fingerprint: Mapping[str, Any]) -> None:
    """Refuse to resume ``run_dir`` with another configuration or other data (hashes in run.json)."""
    import yaml

    if (run_dir / "config.yaml").exists():
        before = comparable_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
        diff = config_differences(before, comparable_config(resolved))
        if diff:
            raise ValueError(f"{run_dir}: cannot resume with a different configuration: {'; '.join(diff[:5])}")
    if (run_dir / "run.json").exists():
        old = json.loads((run_dir / "run.json").read_text()).get("data", {})
        for key in ("manifest_sha256", "embeddings_sha256"):
            if key in old and old[key] != fingerprint[key]:
                raise ValueError(f"{run_dir}: cannot resume: the data changed since the run started ({key} differs)")


def _fit(method, data, bundle, run_dir, tcfg, sel_splits, device, resume) -> dict[str, Any]:
    if not getattr(method, "trainable", True):
        return _fit_untrained(method, bundle, run_dir)
    val = None
    if sel_splits:
        val = ValidationSet.from_bundle(
            bundle, sel_splits, tcfg.val_seed, tcfg.val_max_items, device, metric=tcfg.val_metric
        )
        if val is None:
            raise ValueError(f"selection={tcfg.selection} needs >= 2 identities with both modalities in {sel_splits}")
    return Trainer(method, data, val, run_dir, tcfg).fit(resume=resume)


def _fit_untrained(method: Method, bundle: EmbeddingBundle, run_dir: Path) -> dict[str, Any]:
    """Fit a ``trainable = False`` method on the training split only and store it as best and last.

    ``method.fit_bundle`` receives the training sub-bundle, or (with four parameters) the training
    arrays and identity labels of both modalities.
    """
    import inspect

    t0 = time.perf_counter()
    train_only = split_bundle(bundle, ("train",))
    if len(inspect.signature(method.fit_bundle).parameters) == 1:
        method.fit_bundle(train_only)
    else:  # fit_bundle(face_X (Nf, Df), face_labels (Nf,), voice_X (Nv, Dv), voice_labels (Nv,))
        f_df, F = train_only.select("face")
        v_df, V = train_only.select("voice")
        method.fit_bundle(F, f_df["identity"].to_numpy(str), V, v_df["identity"].to_numpy(str))
    fit_time = time.perf_counter() - t0
    for which in ("last", "best"):
        save_checkpoint(run_dir / "checkpoints" / which, method, {"fit_time_s": fit_time}, {"epoch": 0})
    return {"status": "complete", "epoch": 0, "step": 0, "best_epoch": 0, "best_metric": None, "fit_time_s": fit_time}


def _epoch_times(metrics_path: Path) -> dict[str, Any]:
    if not metrics_path.exists():
        return {}
    rows = [json.loads(ln) for ln in metrics_path.read_text().splitlines() if ln.strip()]
    if not rows:
        return {}
    return {
        "time_per_epoch_s": float(np.mean([r["train_time_s"] for r in rows])),
        "samples_per_s": float(np.mean([r["samples_per_s"] for r in rows])),
    }


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def train_and_embed(
    method_name: str,
    bundle: EmbeddingBundle,
    cfg: Mapping[str, Any] | None = None,
    seed: int = 0,
    run_dir: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Train ``method_name`` on ``bundle`` and embed every item with the selected checkpoint.

    ``cfg``: optional recipe sections (``method:`` hyper-parameters, ``train:`` options such as
    ``epochs``). Returns ``face_emb (Nf, D)``, ``voice_emb (Nv, D)`` aligned with
    ``bundle.rows("face")`` / ``bundle.rows("voice")``, and ``info`` (run.json contents + run_dir).
    Without ``run_dir`` the run goes to a temporary folder that is removed afterwards.
    """
    import tempfile

    cfg = dict(cfg or {})
    config = {
        "benchmark": cfg.get("benchmark", "adhoc"),
        "method": {**dict(cfg.get("method") or {}), "name": method_name},
        "train": {"progress": False, **dict(cfg.get("train") or {}), "seed": seed},
    }
    with tempfile.TemporaryDirectory(prefix="facevoice-run-") as tmp:
        out = Path(run_dir) if run_dir else Path(tmp) / "run"
        config["train"].pop("out", None)
        path = train(config, bundle=bundle, run_dir=out, resume=False)
        device = json.loads((path / "run.json").read_text())["device"]
        method = load_method(path, "best", device=device)
        face = embed_array(method, bundle.embeddings["face"], "face", device=device)
        voice = embed_array(method, bundle.embeddings["voice"], "voice", device=device)
        info = json.loads((path / "run.json").read_text())
        info["run_dir"] = str(path) if run_dir else None
    return face, voice, info
