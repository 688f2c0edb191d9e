"""The ``train:`` section of a recipe, as a checked dataclass."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SELECTIONS = ("val", "last", "test_reference")
OPTIMIZER_IMPLS = ("flat", "torch", "fused")  # facevoice.train.optim (kept here: the config imports no torch)
VAL_METRICS = ("eer", "auc", "auc_mean")  # validation criteria (facevoice.train.validation)
VOLATILE_KEYS = ("progress", "out", "resume", "stop_after_epoch")  # do not change what a run computes


@dataclass
class TrainConfig:
    """Trainer settings. ``lr`` / ``weight_decay``, when set, override the method's hyper-parameters.

    selection: ``val`` (default: best validation metric on held-out identities), ``last`` (final
    epoch), or ``test_reference`` (the reference code's behaviour: select on the unseen *test*
    identities — optimistic, logged with a warning, only for reproducing published numbers).
    num_threads: torch CPU threads during the run (restored afterwards); ``None`` keeps torch's
    default. One thread is the default: these heads are small, and on a shared CPU extra threads
    spin in barriers and run many times slower.
    optimizer_impl: how the method's optimiser is stepped (:mod:`facevoice.train.optim`): ``flat``
    (default: one flat buffer per param group, bit-identical to ``torch``), ``torch`` (torch's own
    per-tensor step) or ``fused`` (torch's fused CPU kernels: faster, other rounding).
    stop_after_epoch: end the run after that epoch with status ``interrupted`` (e.g. to train a long
    schedule in slices); ``--resume`` continues it exactly. Resume itself is tested by killing the
    process (``tests/train/test_kill_resume.py``), not through this option.
    """

    epochs: int = 50
    batch_size: int | None = None
    seed: int = 0
    lr: float | None = None
    weight_decay: float | None = None
    selection: str = "val"
    grad_clip: float | None = None
    optimizer_impl: str = "flat"
    device: str = "auto"
    num_threads: int | None = 1
    steps_per_epoch: int | None = None
    val_seed: int = 0
    val_max_items: int = 5000
    val_metric: str = "eer"
    val_fraction: float = 0.1
    min_val_identities: int = 3  # fewer: selection keeps the last epoch (pipelines.run.prepare_selection)
    val_every: int = 1
    patience: int | None = None
    progress: bool = True
    stop_after_epoch: int | None = None
    out: str | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(f"train.selection must be one of {list(SELECTIONS)}, got {self.selection!r}")
        if int(self.epochs) < 1:
            raise ValueError(f"train.epochs must be >= 1, got {self.epochs}")
        if self.val_metric not in VAL_METRICS:
            raise ValueError(f"train.val_metric must be one of {list(VAL_METRICS)}, got {self.val_metric!r}")
        if self.optimizer_impl not in OPTIMIZER_IMPLS:
            raise ValueError(
                f"train.optimizer_impl must be one of {list(OPTIMIZER_IMPLS)}, got {self.optimizer_impl!r}"
            )
        if int(self.val_every) < 1:
            raise ValueError(f"train.val_every must be >= 1, got {self.val_every}")
        self.epochs, self.seed, self.val_every = int(self.epochs), int(self.seed), int(self.val_every)
        for name in ("lr", "weight_decay", "grad_clip", "val_fraction"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, float(value))

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None) -> TrainConfig:
        """Build from a recipe's ``train:`` mapping; unknown keys raise and list the valid ones."""
        section = dict(section or {})
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - valid)
        if unknown:
            raise ValueError(f"unknown train option(s) {unknown}; valid: {sorted(valid)}")
        return cls(**section)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolve_device(self) -> str:
        """``auto`` -> ``cuda`` when available, else ``cpu``."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


def comparable_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe normalised for "is this the same run?": train defaults filled in, volatile keys and ``_*`` dropped."""
    import json

    import yaml

    cfg = {k: v for k, v in config.items() if not str(k).startswith("_")}
    train = TrainConfig.from_dict(cfg.get("train")).to_dict()
    cfg["train"] = {k: v for k, v in train.items() if k not in VOLATILE_KEYS}
    return yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(cfg, default=str)), sort_keys=True))


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two (comparable) configs."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        va, vb = a.get(key), b.get(key)
        name = f"{prefix}{key}"
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += config_differences(va, vb, name + ".")
        elif va != vb:
            out.append(f"{name}: {va!r} -> {vb!r}")
    return out
