"""What a simulation returns: the bundle the methods see, and the latents only the oracle may read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facevoice.data.bundle import EmbeddingBundle
from facevoice.simceleb.presets import SimConfig
from facevoice.simceleb.world import World


@dataclass
class SimLatents:
    """Latent codes, row-aligned with ``bundle.rows("face")`` / ``bundle.rows("voice")``.

    ``face`` (n_face, k_shared + k_face), ``voice`` (n_voice, k_shared + k_voice); ``shared``
    (n_identities, k_shared) is each identity's shared latent ``mu_a + s_i`` (``identities`` order).
    """

    face: np.ndarray
    voice: np.ndarray
    shared: np.ndarray
    identities: list[str]


@dataclass
class SimResult:
    """A simulated benchmark: ``bundle`` (what methods see), ``latents`` (for the oracle only)."""

    bundle: EmbeddingBundle
    latents: SimLatents
    config: SimConfig
    world: World = field(repr=False)
    #: the Bayes-optimal matcher (:class:`~facevoice.simceleb.oracle.SimOracle`), set by ``simulate`` and
    #: ``load_simulation``
    oracle: Any = field(default=None, repr=False, compare=False)
