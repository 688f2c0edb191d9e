"""The fixed part of a ``simceleb`` world: attribute embeddings, language offsets, observation maps.

Everything here depends only on the config's structural fields and ``world_seed`` (never on the
sampling ``seed``), so two simulations of one world share the demographic geometry and the maps
and differ only in the people and items drawn. See docs/simceleb.md for the equations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facevoice.core.hashing import array_sha256
from facevoice.core.threads import limit_threads
from facevoice.simceleb.presets import SimConfig

_STREAMS = {"gender": 1, "nationality": 2, "age": 3, "language": 4, "face_map": 5, "voice_map": 6}


def one_blas_thread():
    """Context capping BLAS at one thread: a multi-threaded GEMM / QR may sum in another order and
    change the last bits of the maps and the 4096-d observations, so bit-identical simulations (and
    the data hashes runs record) need it on every machine and ``OMP_NUM_THREADS`` setting."""
    return limit_threads(1, blas_only=True, torch_threads=False)


def world_rng(world_seed: int, purpose: str) -> np.random.Generator:
    """An independent generator per (world_seed, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(world_seed), 0x5EED, _STREAMS[purpose]]))


@dataclass(frozen=True)
class FactorVariances:
    """Per-coordinate variances of the Gaussian factors (squares of the config's ``*_std``)."""

    s: float  # idiosyncratic shared factor s_i
    e: float  # per-modality expression noise e^f_i, e^v_i
    t: float  # modality-specific identity factors t^f_i, t^v_i
    c: float  # per-video session offsets
    eps: float  # per-item noise
    r: float  # identity x language interaction (voice)

    @classmethod
    def from_config(cls, cfg: SimConfig) -> FactorVariances:
        return cls(
            s=cfg.shared_std**2,
            e=cfg.expression_std**2,
            t=cfg.specific_std**2,
            c=cfg.session_std**2,
            eps=cfg.noise_std**2,
            r=cfg.language_interaction_std**2,
        )


def _phi(y: np.ndarray, slope: float) -> np.ndarray:
    return np.tanh(y) + slope * y


def _phi_inverse(x: np.ndarray, slope: float, iters: int = 64) -> np.ndarray:
    """Inverse of ``tanh(y) + slope*y`` (strictly increasing): bisection on its bracket, then Newton."""
    lo, hi = (x - 1.0) / slope, (x + 1.0) / slope
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = _phi(mid, slope) < x
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    y = 0.5 * (lo + hi)
    for _ in range(2):
        y = y - (_phi(y, slope) - x) / (1.0 - np.tanh(y) ** 2 + slope)
    return y


class InjectiveMap:
    """x = phi(a_L W_L ... phi(a_1 W_1 z / scale + b_1) ... + b_L), phi(y) = tanh(y) + slope*y.

    Each ``W_l`` (d_out, d_in) has orthonormal columns (d_out >= d_in) and ``phi`` is strictly
    increasing, so the map is injective and :meth:`invert` recovers ``z`` exactly (up to float
    precision). ``a_l = gain * sqrt(d_out / d_in)`` keeps pre-activations at about ``gain`` std.
    """

    def __init__(
        self, dims: list[int], gain: float, slope: float, bias_std: float, in_scale: float, rng: np.random.Generator
    ) -> None:
        if any(b < a for a, b in zip(dims[:-1], dims[1:], strict=True)):
            raise ValueError(f"an injective map needs non-decreasing widths, got {dims}")
        self.dims, self.gain, self.slope, self.in_scale = list(dims), float(gain), float(slope), float(in_scale)
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            q, r = np.linalg.qr(rng.standard_normal((d_out, d_in)))
            self.weights.append(q * np.sign(np.diag(r)))
            self.biases.append(bias_std * rng.standard_normal(d_out))

    def _amp(self, layer: int) -> float:
        return self.gain * np.sqrt(self.dims[layer + 1] / self.dims[layer])

    def __call__(self, z: np.ndarray, chunk: int = 512) -> np.ndarray:
        """Map latent codes ``z`` (n, d_in) to observations (n, d_out) float32."""
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.dims[0]:
            raise ValueError(f"latents must be (n, {self.dims[0]}), got {z.shape}")
        out = np.empty((len(z), self.dims[-1]), dtype=np.float32)
        for start in range(0, len(z), chunk):
            h = z[start : start + chunk] / self.in_scale
            for layer, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = _phi(self._amp(layer) * (h @ W.T) + b, self.slope)
            out[start : start + chunk] = h
        return out

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Recover latents (n, d_in) from observations ``x`` (n, d_out)."""
        h = np.asarray(x, dtype=np.float64)
        for layer in reversed(range(len(self.weights))):
            y = _phi_inverse(h, self.slope)
            h = ((y - self.biases[layer]) @ self.weights[layer]) / self._amp(layer)
        return h * self.in_scale


@dataclass
class World:
    """Attribute table and embeddings, language offsets and the two observation maps."""

    combos: list[tuple[str, str, str]]  # (gender, nationality, age_band) with positive prior
    log_prior: np.ndarray  # (A,)
    means: np.ndarray  # (A, k_shared) demographic latent mu_a (centred under the prior)
    language_offsets: np.ndarray  # (L, k_shared + k_voice) o_l
    variances: FactorVariances
    face_map: InjectiveMap
    voice_map: InjectiveMap

    @property
    def k_shared(self) -> int:
        return self.means.shape[1]

    def fingerprint(self) -> str:
        """Hash of every fixed array (detects a changed simulator when loading a saved simulation)."""
        maps = [*self.face_map.weights, *self.face_map.biases, *self.voice_map.weights, *self.voice_map.biases]
        return array_sha256(self.log_prior, self.means, self.language_offsets, *maps)[:16]


def _attribute_embeddings(cfg: SimConfig) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    k = cfg.k_shared
    genders = sorted({g for g, _, c in cfg.demographics if c > 0})
    nations = sorted({n for _, n, c in cfg.demographics if c > 0})
    if len(genders) > k:
        raise ValueError(f"k_shared={k} is smaller than the number of genders {len(genders)}")
    # genders: scaled orthonormal vectors, every pair exactly gender_gap apart
    basis, _ = np.linalg.qr(world_rng(cfg.world_seed, "gender").standard_normal((k, max(len(genders), 1))))
    gender = {g: cfg.gender_gap / np.sqrt(2.0) * basis[:, i] for i, g in enumerate(genders)}
    # nationalities: i.i.d. Gaussian vectors of RMS norm nationality_scale
    nat_rng = world_rng(cfg.world_seed, "nationality")
    nation = {n: cfg.nationality_scale / np.sqrt(k) * nat_rng.standard_normal(k) for n in nations}
    # age bands: ordinal, evenly spaced along one random direction, youngest to oldest age_span apart
    direction = world_rng(cfg.world_seed, "age").standard_normal(k)
    direction /= np.linalg.norm(direction)
    n_b = len(cfg.age_bands)
    pos = np.linspace(-0.5, 0.5, n_b) if n_b > 1 else np.zeros(1)
    age = np.outer(cfg.age_span * pos, direction)
    return gender, nation, age


def build_world(cfg: SimConfig) -> World:
    """The fixed world of ``cfg`` (deterministic in ``cfg.world_seed`` and the structural fields)."""
    cfg.validate()
    gender, nation, age = _attribute_embeddings(cfg)
    total = cfg.total_demographics()
    combos, prior, means = [], [], []
    for g, n, count in cfg.demographics:
        for b, (band, p_band) in enumerate(zip(cfg.age_bands, cfg.age_probs, strict=True)):
            if count > 0 and p_band > 0:
                combos.append((g, n, band))
                prior.append(count / total * p_band)
                means.append(gender[g] + nation[n] + age[b])
    prior_arr, mean_arr = np.asarray(prior), np.asarray(means)
    mean_arr = mean_arr - prior_arr @ mean_arr  # centre the demographic latent under the prior
    d_voice_latent = cfg.k_shared + cfg.k_voice
    n_lang = len(cfg.languages)
    offsets = cfg.language_offset_std * world_rng(cfg.world_seed, "language").standard_normal((n_lang, d_voice_latent))
    var = FactorVariances.from_config(cfg)
    mean_var = float(prior_arr @ (mean_arr**2).sum(1)) / cfg.k_shared
    ident_shared = mean_var + var.s + var.e
    face_var = (cfg.k_shared * ident_shared + cfg.k_face * var.t) / (cfg.k_shared + cfg.k_face) + var.c + var.eps
    voice_var = (cfg.k_shared * ident_shared + cfg.k_voice * var.t) / d_voice_latent + var.c + var.eps + var.r
    voice_var += float(offsets.var(0).mean()) if n_lang > 1 else 0.0
    face_map = InjectiveMap(
        [cfg.k_shared + cfg.k_face, cfg.map_hidden, cfg.d_face],
        cfg.map_gain,
        cfg.map_slope,
        cfg.map_bias_std,
        np.sqrt(face_var),
        world_rng(cfg.world_seed, "face_map"),
    )
    voice_map = InjectiveMap(
        [d_voice_latent, cfg.map_hidden, cfg.d_voice],
        cfg.map_gain,
        cfg.map_slope,
        cfg.map_bias_std,
        np.sqrt(voice_var),
        world_rng(cfg.world_seed, "voice_map"),
    )
    return World(combos, np.log(prior_arr), mean_arr, offsets, var, face_map, voice_map)
