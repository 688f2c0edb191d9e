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

Every file is written so that a process killed at any point leaves the previous version readable
(``run.json``, ``config.yaml`` and ``classes.json`` by an atomic rename, checkpoints as described in
:mod:`facevoice.runs.checkpoint`), and ``--resume`` continues from the last checkpoint bit for bit.

``load_method`` / ``embed_array`` (from :mod:`facevoice.runs.loading`) are re-exported here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facevoice.core.config import dump_config
from facevoice.core.files import write_json_atomic
from facevoice.core.log import get_logger
from facevoice.core.seeding import seed_everything
from facevoice.core.threads import limit_threads
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.splits import carve_validation
from facevoice.eval.metrics import eer
from facevoice.interop.feature_csv import check_feature_lists, evaluate_feature_lists
from facevoice.methods import create_method
from facevoice.methods.base import Method
from facevoice.pipelines.data_sources import bundle_fingerprint, load_data, split_bundle
from facevoice.pipelines.schedule import adapt_schedule
from facevoice.runs.checkpoint import load_checkpoint, save_checkpoint
from facevoice.runs.inputs import inputs_from_bundle
from facevoice.runs.loading import embed_array, load_method
from facevoice.train.config import TrainConfig
from facevoice.train.data import TrainData
from facevoice.train.provenance import git_sha
from facevoice.train.resume import check_resumable
from facevoice.train.samplers import MethodBatches
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


def _identities_with_both(manifest, split: str) -> set[str]:
    m = manifest[manifest["split"] == split]
    return set(m.loc[m["modality"] == "face", "identity"]) & set(m.loc[m["modality"] == "voice", "identity"])


def prepare_selection(bundle: EmbeddingBundle, tcfg: TrainConfig) -> tuple[EmbeddingBundle, tuple[str, ...], list[str]]:
    """Bundle (with val identities carved from train if it had none), selection splits, carved ids.

    Too few validation identities (fewer than ``train.min_val_identities`` with both modalities,
    given or carvable) make checkpoint selection noise (a validation AUC of 9 % on 2 identities):
    the run then keeps the last epoch of the recipe's schedule (selection splits ``()``), and says
    so at the start, as it does whenever validation identities are carved from training.
    """
    if tcfg.selection == "test_reference":
        log.warning(
            "selection=test_reference: checkpoints are selected on the TEST identities (reference-code "
            "behaviour). Test figures of this run are optimistic and must not be reported as held-out results."
        )
        return bundle, ("test_unseen",), []
    if tcfg.selection == "last":
        return bundle, (), []
    floor = tcfg.min_val_identities
    n_val = len(_identities_with_both(bundle.manifest, "val"))
    if n_val:
        if n_val >= floor:
            return bundle, ("val",), []
        log.warning(
            "only %d validation identities (fewer than train.min_val_identities=%d): selecting on them is noise; "
            "keeping the LAST epoch of the schedule instead (their items are not trained on either)",
            n_val,
            floor,
        )
        return bundle, (), []
    n_train = len(_identities_with_both(bundle.manifest, "train"))
    n_carve = max(2, int(round(tcfg.val_fraction * n_train)))
    if n_carve < floor or n_train - n_carve < 2:
        log.warning(
            "no validation identities, and %d training identities give %d at train.val_fraction=%g (fewer than "
            "train.min_val_identities=%d): training on all of them and keeping the LAST epoch of the schedule",
            n_train,
            n_carve,
            tcfg.val_fraction,
            floor,
        )
        return bundle, (), []
    manifest, carved = carve_validation(bundle.manifest, tcfg.val_fraction, tcfg.val_seed)
    bundle = EmbeddingBundle(manifest, dict(bundle.embeddings), dict(bundle.tags), dict(bundle.meta))
    log.warning(
        "no validation identities in the data: %d of the %d training identities are held out of training to "
        "select checkpoints on (train.val_fraction=%g, seed %d); give a val split to train on all of them",
        len(carved),
        n_train,
        tcfg.val_fraction,
        tcfg.val_seed,
    )
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
    fingerprint = bundle_fingerprint(bundle)  # the data as given (carving a val split is part of the config)
    bundle, sel_splits, carved = prepare_selection(bundle, tcfg)
    run_cfg, schedule = adapt_schedule(config, tcfg, bundle, name)  # config.yaml keeps the recipe as written
    seed_everything(tcfg.seed)
    data = TrainData.from_bundle(bundle, device=device)
    method = create_method(name, data.d_face, data.d_voice, data.n_classes, hparams).to(device)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {**config, "train": tcfg.to_dict()}
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
        "selection_used": "val" if sel_splits == ("val",) else "last" if not sel_splits else "test_reference",
        "schedule": schedule,
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
    write_json_atomic(run_dir / "classes.json", classes, indent=1)
    write_json_atomic(run_dir / "run.json", info)
    t0 = time.perf_counter()
    with limit_threads(tcfg.num_threads):
        summary = _fit(method, data, bundle, run_dir, run_cfg, sel_splits, device, resume)
    info.update(summary, wall_time_s=time.perf_counter() - t0, **_epoch_times(run_dir / "metrics.jsonl"))
    best = info.get("best_metric")
    if best is not None and not np.isfinite(best):
        info["best_metric"] = None
    best_json = run_dir / "checkpoints" / "best.json"
    if best_json.exists():  # the selected epoch's validation figures (EER, AUCs, val_metric)
        info["best_val"] = {k: v for k, v in json.loads(best_json.read_text()).items() if k.startswith("val_")}
    tests = (config.get("data") or {}).get("tests")
    if tests and info["status"] != "interrupted":
        write_json_atomic(run_dir / "run.json", info)  # the training is finished even if scoring a list fails
        method = load_method(run_dir, "best", device)  # per-trial scores: test_scores/<list>.tsv
        results = evaluate_feature_lists(method, config["data"], device, run_dir / "test_scores")
        write_json_atomic(run_dir / "test_lists.json", results)
        info["test_lists"] = {k: {"eer": v["eer"], "auc": v["auc"]} for k, v in results.items()}
    write_json_atomic(run_dir / "run.json", info)
    return run_dir


def _fit(method, data, bundle, run_dir, tcfg, sel_splits, device, resume) -> dict[str, Any]:
    hooks = _overrides(method, "prepare") or _overrides(method, "fit_backend")
    arrays = split_arrays(bundle, ("train",)) if hooks else None
    sel_arrays = split_arrays(bundle, sel_splits) if hooks and sel_splits else None
    if not getattr(method, "trainable", True):
        if _overrides(method, "fit_backend"):
            return _fit_untrained(method, bundle, run_dir, arrays, sel_arrays)
        return _fit_untrained(method, bundle, run_dir)
    val = None
    if sel_splits:
        val = ValidationSet.from_bundle(
            bundle, sel_splits, tcfg.val_seed, tcfg.val_max_items, device, metric=tcfg.val_metric
        )
        if val is None:
            raise ValueError(f"selection={tcfg.selection} needs >= 2 identities with both modalities in {sel_splits}")
    if _overrides(method, "prepare"):  # deterministic from the data: repeated on resume, then overwritten
        method.prepare(arrays, sel_arrays, val_eer)
    batches = MethodBatches(method, data, tcfg.batch_size, tcfg.steps_per_epoch)
    summary = Trainer(method, batches, val, run_dir, tcfg).fit(resume=resume)
    if _overrides(method, "fit_backend") and summary["status"] != "interrupted":
        summary["backend"] = _fit_backend_on_best(method, run_dir, arrays, sel_arrays)
    return summary


def val_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """The criterion methods' set-up hooks choose settings by on validation pairs: the EER (lower is better)."""
    return eer(scores, labels).eer


def _overrides(method: Method, hook: str) -> bool:
    """Does ``method`` define its own ``hook`` (rather than the no-op of :class:`Method`)?"""
    return getattr(type(method), hook, None) is not getattr(Method, hook)


def split_arrays(bundle: EmbeddingBundle, splits: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"face": (X (n, Df), identities (n,)), "voice": (...)}`` of the items of ``splits``."""
    out = {}
    for m in ("face", "voice"):
        df, X = bundle.select(m, splits)
        out[m] = (np.asarray(X, dtype=np.float32), df["identity"].to_numpy(str))
    return out


def _fit_backend_on_best(method: Method, run_dir: Path, train_arrays, sel_arrays) -> dict[str, Any] | None:
    """Load the selected checkpoint, fit the method's back-end (settings chosen on the selection split),
    save it into ``checkpoints/best``; a back-end already fitted there (a resumed, finished run) is kept."""
    best_dir = run_dir / "checkpoints" / "best"
    state, _ = load_checkpoint(best_dir, method)
    if "backend" in state:
        return state["backend"]
    t0 = time.perf_counter()
    summary = method.fit_backend(train_arrays, sel_arrays, val_eer)
    if summary is not None:
        summary = {**summary, "fit_time_s": time.perf_counter() - t0}
    save_checkpoint(best_dir, method, {**state, "backend": summary}, {"epoch": state.get("best", {}).get("epoch", "")})
    return summary


def _fit_untrained(
    method: Method, bundle: EmbeddingBundle, run_dir: Path, train_arrays=None, sel_arrays=None
) -> dict[str, Any]:
    """Fit a ``trainable = False`` method on the training split only and store it as best and last.

    A method with its own ``fit_backend`` gets the training items and the selection split's items
    (its settings are chosen on those); otherwise ``method.fit_bundle`` receives the training
    sub-bundle, or (with four parameters) the training arrays and identity labels of both modalities.
    """
    import inspect

    t0 = time.perf_counter()
    train_only = split_bundle(bundle, ("train",))
    backend = None
    if train_arrays is not None:
        backend = method.fit_backend(train_arrays, sel_arrays, val_eer)
    elif len(inspect.signature(method.fit_bundle).parameters) == 1:
        method.fit_bundle(train_only)
    else:  # fit_bundle(face_X (Nf, Df), face_labels (Nf,), voice_X (Nv, Dv), voice_labels (Nv,))
        f_df, F = train_only.select("face")
        v_df, V = train_only.select("voice")
        method.fit_bundle(F, f_df["identity"].to_numpy(str), V, v_df["identity"].to_numpy(str))
    fit_time = time.perf_counter() - t0
    for which in ("last", "best"):
        state = {"fit_time_s": fit_time, **({"backend": backend} if backend is not None else {})}
        save_checkpoint(run_dir / "checkpoints" / which, method, state, {"epoch": 0})
    out = {"status": "complete", "epoch": 0, "step": 0, "best_epoch": 0, "best_metric": None, "fit_time_s": fit_time}
    return out | ({"backend": backend} if backend is not None else {})


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
