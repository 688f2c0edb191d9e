"""``simceleb``: the simulated face-voice benchmark and its Bayes-optimal oracle (docs/simceleb.md).

``simulate(preset, seed)`` -> :class:`SimResult` (bundle + latents + oracle). Modules: ``presets``
(the generative model's settings), ``world`` (the fixed random maps), ``simulate`` (sampling,
saving), ``components`` and ``oracle`` (exact log-likelihood ratios).
"""

from __future__ import annotations

from facevoice.simceleb.oracle import SimOracle, parse_constraint
from facevoice.simceleb.presets import PRESETS, SimConfig, resolve_config
from facevoice.simceleb.result import SimLatents, SimResult
from facevoice.simceleb.simulate import load_simulation, save_simulation, simulate

__all__ = [
    "PRESETS",
    "SimConfig",
    "SimLatents",
    "SimOracle",
    "SimResult",
    "load_simulation",
    "parse_constraint",
    "resolve_config",
    "save_simulation",
    "simulate",
]
