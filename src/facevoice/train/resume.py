"""Is a run directory the same run as the one being asked for? The one check behind every resume.

``facevoice train --resume``, the benchmark's reuse of finished runs (and resume of torn ones) and
``facevoice finetune --resume`` all call :func:`check_resumable`: the stored ``config.yaml`` must equal
the requested configuration once keys that do not change what a run computes are dropped (the
caller's ``comparable``), and the data fingerprints stored in ``run.json`` must equal the current ones
wherever both name the same hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from facevoice.train.config import comparable_config, config_differences

FINGERPRINT_KEYS = ("manifest_sha256", "embeddings_sha256", "encoder_tags")


class RunMismatch(ValueError):
    """A run directory holds another configuration or was trained on other data."""


def check_resumable(
    run_dir: str | Path,
    config: Mapping[str, Any],
    fingerprint: Mapping[str, Any] | None = None,
    comparable: Callable[[Mapping[str, Any]], dict[str, Any]] = comparable_config,
) -> None:
    """Raise :class:`RunMismatch` unless ``run_dir`` (if it holds a run) is ``config`` on the same data.

    ``config`` is the requested (resolved) configuration, compared through ``comparable`` with the
    stored ``config.yaml``; ``fingerprint`` holds data hashes compared with ``run.json["data"]``.
    A folder without ``config.yaml`` / ``run.json`` passes (nothing to contradict).
    """
    run_dir = Path(run_dir)
    if (run_dir / "config.yaml").exists():
        before = comparable(yaml.safe_load((run_dir / "config.yaml").read_text()) or {})
        diff = config_differences(before, comparable(config))
        if diff:
            raise RunMismatch(f"{run_dir}: cannot resume with a different configuration: {'; '.join(diff[:5])}")
    if fingerprint and (run_dir / "run.json").exists():
        old = json.loads((run_dir / "run.json").read_text()).get("data") or {}
        for key in FINGERPRINT_KEYS:
            if key in old and key in fingerprint and old[key] != fingerprint[key]:
                raise RunMismatch(f"{run_dir}: cannot resume: the data changed since the run started ({key} differs)")
