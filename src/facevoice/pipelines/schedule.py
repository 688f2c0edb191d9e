"""Schedules that adapt to the size of the training data (recipes for small real corpora).

A recipe tuned on 901 training identities (``simvox1``, the papers' VoxCeleb1 settings) fixes a
batch size and a number of epochs. On a corpus of 20 people with 40 clips each, an epoch is then a
single step of a batch larger than the data, and 50 epochs are 50 optimiser steps: the run ends
before the model has learnt anything (FOP at 43.8 % EER, SBNet at chance on 230 identities,
issue 16). A recipe's ``schedule:`` section instead states the *amount of optimisation*, and the
run resolves it against the data it actually trains on::

    schedule:
      steps: 1500           # optimiser steps the run should take, whatever the data size
      min_epochs: 10        # passes over the data at least ...
      max_epochs: 400       # ... and at most (tiny corpora: many short epochs, not endless ones)
      batches_per_epoch: 4  # the batch never exceeds 1/4 of the training voice items (floor 8)

Resolution (:func:`adapt_schedule`): batch ``B = min(train.batch_size or the method's default,
max(8, n_voice // batches_per_epoch))`` (and at most the number of identities for methods that
draw one item per identity); steps per epoch from the method's sampling kind, as the trainer
counts them; ``epochs = clip(ceil(steps / steps_per_epoch), min_epochs, max_epochs)``. The
resolved values are logged at the start of the run and stored in ``run.json`` (``schedule``); the
run's ``config.yaml`` keeps the recipe as written (the resolution is a function of the data, whose
hashes ``run.json`` holds too). Training-free methods ignore the section.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from facevoice.core.log import get_logger
from facevoice.data.bundle import EmbeddingBundle
from facevoice.methods import METHODS
from facevoice.train.config import TrainConfig

log = get_logger(__name__)

__all__ = ["SCHEDULE_KEYS", "adapt_schedule"]

SCHEDULE_KEYS = {"steps": None, "min_epochs": 1, "max_epochs": 1000, "batches_per_epoch": 4, "min_batch": 8}


def _section(config: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = config.get("schedule")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"schedule: must be a mapping of {sorted(SCHEDULE_KEYS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(SCHEDULE_KEYS))
    if unknown:
        raise ValueError(f"unknown schedule option(s) {unknown}; valid: {sorted(SCHEDULE_KEYS)}")
    out = {**SCHEDULE_KEYS, **dict(raw)}
    if out["steps"] is None or int(out["steps"]) < 1:
        raise ValueError(f"schedule.steps must be a positive number of optimiser steps, got {out['steps']!r}")
    for key in ("min_epochs", "max_epochs", "batches_per_epoch", "min_batch"):
        out[key] = int(out[key])
        if out[key] < 1:
            raise ValueError(f"schedule.{key} must be >= 1, got {out[key]}")
    if out["min_epochs"] > out["max_epochs"]:
        raise ValueError(f"schedule.min_epochs {out['min_epochs']} > max_epochs {out['max_epochs']}")
    out["steps"] = int(out["steps"])
    return out


def _training_sizes(bundle: EmbeddingBundle) -> tuple[int, int, int]:
    """(identities with both modalities, their face items, their voice items) in the ``train`` split."""
    m = bundle.manifest[bundle.manifest["split"] == "train"]
    ids = set(m.loc[m["modality"] == "face", "identity"]) & set(m.loc[m["modality"] == "voice", "identity"])
    m = m[m["identity"].isin(ids)]
    return len(ids), int((m["modality"] == "face").sum()), int((m["modality"] == "voice").sum())


def _steps_per_epoch(sampling: str, batch: int, n_face: int, n_voice: int) -> int:
    """Steps of one epoch as :mod:`facevoice.train.samplers` counts them."""
    if sampling == "modality":
        return math.ceil(n_face / batch) + math.ceil(n_voice / batch)
    if sampling == "one_per_identity":
        return max(1, math.ceil(n_voice / batch))
    full, rest = divmod(n_voice, batch)  # paired: a last batch smaller than 2 is dropped
    return max(1, full + (1 if rest >= 2 else 0))


def adapt_schedule(
    config: Mapping[str, Any], tcfg: TrainConfig, bundle: EmbeddingBundle, method: str
) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The run's :class:`TrainConfig` with ``epochs`` / ``batch_size`` resolved from ``schedule:``, and a record.

    Without a ``schedule:`` section (or for a training-free method) ``tcfg`` is returned unchanged
    with ``None``.
    """
    section = _section(config)
    if section is None:
        return tcfg, None
    cls = METHODS.get(method) if method in METHODS else None
    if cls is not None and not getattr(cls, "trainable", True):
        return tcfg, None
    sampling = getattr(cls, "sampling", "paired")
    n_ids, n_face, n_voice = _training_sizes(bundle)
    if n_ids < 2 or n_voice < 2:
        return tcfg, None  # the trainer refuses such data with its own message
    wanted = int(tcfg.batch_size or getattr(cls, "default_batch_size", 128))
    batch = min(wanted, max(section["min_batch"], n_voice // section["batches_per_epoch"]))
    if sampling == "one_per_identity":
        batch = min(batch, n_ids)
    batch = max(2, batch)
    per_epoch = _steps_per_epoch(sampling, batch, n_face, n_voice)
    epochs = min(section["max_epochs"], max(section["min_epochs"], math.ceil(section["steps"] / per_epoch)))
    record = {
        "identities": n_ids,
        "face_items": n_face,
        "voice_items": n_voice,
        "batch_size": batch,
        "steps_per_epoch": per_epoch,
        "epochs": epochs,
        "steps": epochs * per_epoch,
        "requested": {k: section[k] for k in SCHEDULE_KEYS},
    }
    log.info(
        "schedule adapted to %d training identities (%d face / %d voice items): batch %d, %d steps/epoch, "
        "%d epochs = %d steps (recipe: %d steps; batch_size %s, epochs %d as written)",
        n_ids,
        n_face,
        n_voice,
        batch,
        per_epoch,
        epochs,
        epochs * per_epoch,
        section["steps"],
        tcfg.batch_size,
        tcfg.epochs,
    )
    return dataclasses.replace(tcfg, epochs=epochs, batch_size=batch), record
