"""Configuration and named presets of the ``simceleb`` simulator (see docs/simceleb.md).

``VOX1_DEMOGRAPHICS`` is the joint (gender, nationality) count table of the 1,251 VoxCeleb1
identities, derived once from ``vox1_meta.csv`` and embedded here so the package never reads the
shared data at run time (tests/data/test_synthetic_presets.py checks it against the CSV).
VoxCeleb has no ages: ``AGE_BANDS`` / ``AGE_PROBS`` are a documented assumption for a population
of adult celebrities, independent of gender and nationality.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

VOX1_DEMOGRAPHICS: tuple[tuple[str, str, int], ...] = (
    ("f", "Australia", 12), ("m", "Australia", 25), ("f", "Austria", 1), ("f", "Brazil", 1),
    ("f", "Canada", 25), ("m", "Canada", 29), ("f", "Chile", 1), ("m", "Chile", 2),
    ("f", "China", 1), ("m", "China", 1), ("f", "Croatia", 1), ("m", "Croatia", 2),
    ("f", "Denmark", 2), ("m", "Denmark", 1), ("f", "France", 1), ("f", "Germany", 5),
    ("m", "Germany", 4), ("f", "Guyana", 1), ("f", "India", 11), ("m", "India", 15),
    ("f", "Iran", 1), ("f", "Ireland", 5), ("m", "Ireland", 13), ("f", "Israel", 1),
    ("f", "Italy", 5), ("m", "Italy", 3), ("f", "Mexico", 2), ("m", "Mexico", 5),
    ("f", "Netherlands", 2), ("m", "Netherlands", 1), ("f", "New Zealand", 2), ("m", "New Zealand", 6),
    ("f", "Norway", 7), ("m", "Norway", 13), ("m", "Pakistan", 1), ("f", "Philippines", 2),
    ("m", "Philippines", 1), ("f", "Poland", 2), ("f", "Portugal", 1), ("m", "Portugal", 1),
    ("f", "Russia", 4), ("m", "Singapore", 1), ("m", "South Africa", 1), ("f", "South Korea", 1),
    ("f", "Spain", 2), ("m", "Spain", 2), ("f", "Sri Lanka", 1), ("m", "Sudan", 1),
    ("f", "Sweden", 4), ("m", "Sweden", 1), ("m", "Switzerland", 3), ("f", "Trinidad and Tobago", 1),
    ("f", "UK", 88), ("m", "UK", 127), ("f", "USA", 368), ("m", "USA", 431),
)  # fmt: skip

# MAV-Celeb v1 (English-Urdu): 70 celebrities, 43 male / 27 female (dataset page); Pakistani celebrities.
MAVCELEB_DEMOGRAPHICS: tuple[tuple[str, str, int], ...] = (("f", "Pakistan", 27), ("m", "Pakistan", 43))

AGE_BANDS: tuple[str, ...] = ("18-29", "30-39", "40-49", "50-59", "60+")
AGE_PROBS: tuple[float, ...] = (0.20, 0.30, 0.25, 0.15, 0.10)


@dataclass(frozen=True)
class SimConfig:
    """Every knob of the simulator; strengths are standard deviations per latent coordinate.

    Identity split: the first ``n_train`` identities of a seeded permutation are ``train``, the
    next ``n_val`` are ``val``, the rest ``test_unseen``. Each identity has
    ``videos_per_language[l]`` videos in language ``languages[l]``; the last ``test_seen_videos``
    videos per language of a train identity form ``test_seen`` (seen-heard).
    """

    name: str = "custom"
    n_identities: int = 1251
    n_train: int = 901
    n_val: int = 100
    demographics: tuple[tuple[str, str, int], ...] = VOX1_DEMOGRAPHICS
    age_bands: tuple[str, ...] = AGE_BANDS
    age_probs: tuple[float, ...] = AGE_PROBS
    languages: tuple[str, ...] = ("en",)
    videos_per_language: tuple[int, ...] = (4,)
    test_seen_videos: int = 1
    face_items_per_video: int = 2
    voice_items_per_video: int = 2
    # latent code: k_shared coordinates expressed by both modalities + modality-specific ones
    k_shared: int = 8
    k_face: int = 12
    k_voice: int = 24
    # demographic attribute embeddings (norms of the differences between attribute means)
    gender_gap: float = 3.5
    nationality_scale: float = 1.2
    age_span: float = 2.4
    # identity, session and noise factors (std per latent coordinate)
    shared_std: float = 0.55
    expression_std: float = 0.45
    specific_std: float = 1.0
    session_std: float = 0.35
    noise_std: float = 0.3
    language_offset_std: float = 0.0
    language_interaction_std: float = 0.0
    # observation maps
    d_face: int = 4096
    d_voice: int = 512
    map_hidden: int = 256
    map_gain: float = 1.5
    map_slope: float = 0.1
    map_bias_std: float = 0.5
    world_seed: int = 0
    seed: int = 0
    id_prefix: str = "sim"

    @property
    def n_test_unseen(self) -> int:
        return self.n_identities - self.n_train - self.n_val

    def validate(self) -> SimConfig:
        """Raise ``ValueError`` naming the first inconsistent field; return self."""
        problems = []
        if self.n_train < 2 or self.n_val < 0 or self.n_test_unseen < 2:
            problems.append(
                f"identity split n_train={self.n_train}, n_val={self.n_val}, n_test_unseen={self.n_test_unseen} "
                f"(of n_identities={self.n_identities}) needs n_train >= 2, n_val >= 0, n_test_unseen >= 2"
            )
        if len(self.languages) == 0 or len(self.languages) != len(self.videos_per_language):
            problems.append(f"languages {self.languages} and videos_per_language {self.videos_per_language} differ")
        if len(set(self.languages)) != len(self.languages):
            problems.append(f"duplicate language in {self.languages}")
        if any(v - self.test_seen_videos < 1 for v in self.videos_per_language) or self.test_seen_videos < 0:
            problems.append(
                f"test_seen_videos={self.test_seen_videos} must leave >= 1 training video per language "
                f"(videos_per_language={self.videos_per_language})"
            )
        if min(self.face_items_per_video, self.voice_items_per_video) < 1:
            problems.append("face_items_per_video and voice_items_per_video must be >= 1")
        if not self.demographics or any(c < 0 for _, _, c in self.demographics) or self.total_demographics() == 0:
            problems.append("demographics needs (gender, nationality, count) rows with positive total count")
        if len(self.age_bands) != len(self.age_probs) or abs(sum(self.age_probs) - 1) > 1e-6:
            problems.append(f"age_probs {self.age_probs} must match age_bands {self.age_bands} and sum to 1")
        if min(self.k_shared, self.k_face, self.k_voice) < 1:
            problems.append("k_shared, k_face and k_voice must be >= 1")
        for mod, k, d in (("face", self.k_face, self.d_face), ("voice", self.k_voice, self.d_voice)):
            if not self.k_shared + k <= self.map_hidden <= d:
                problems.append(
                    f"{mod} map must widen: k_shared + k_{mod} = {self.k_shared + k} <= map_hidden = "
                    f"{self.map_hidden} <= d_{mod} = {d}"
                )
        strengths = [f.name for f in fields(self) if f.name.endswith(("_std", "_gap", "_scale", "_span"))]
        problems += [f"{s} must be >= 0, got {getattr(self, s)}" for s in strengths if getattr(self, s) < 0]
        if self.map_gain <= 0 or self.map_slope <= 0:
            problems.append("map_gain and map_slope must be > 0 (the map must stay injective)")
        if problems:
            raise ValueError(f"invalid SimConfig {self.name!r}: " + "; ".join(problems))
        return self

    def total_demographics(self) -> int:
        return sum(c for _, _, c in self.demographics)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SimConfig field(s) {unknown}; valid: {sorted(known)}")
        kw = dict(d)
        for key in ("age_bands", "age_probs", "languages", "videos_per_language"):
            if key in kw:
                kw[key] = tuple(kw[key])
        if "demographics" in kw:
            kw["demographics"] = tuple((str(g), str(n), int(c)) for g, n, c in kw["demographics"])
        return cls(**kw)

    def digest(self) -> str:
        """Short stable hash of every field (tags the embedding stores of a saved simulation)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


PRESETS: dict[str, SimConfig] = {
    # VoxCeleb1-like: 1,251 identities, 901/100/250 identities, 4 videos x 2 items per modality each
    # (3 training videos + 1 seen-heard test video for train identities).
    "vox1": SimConfig(name="vox1"),
    # MAV-Celeb-v1-like: 70 identities, English and Urdu videos (about 8:6 as in v1), disjoint
    # test identities; language shifts the voice (offset + identity x language interaction).
    "mavceleb": SimConfig(
        name="mavceleb",
        n_identities=70,
        n_train=50,
        n_val=6,
        demographics=MAVCELEB_DEMOGRAPHICS,
        languages=("english", "urdu"),
        videos_per_language=(4, 3),
        test_seen_videos=0,
        face_items_per_video=3,
        voice_items_per_video=3,
        # stronger idiosyncratic shared factor than vox1 (0.55): with 50 training identities and one
        # nationality, 0.55 left the CCA baseline at chance on gender-constrained trials (docs/simceleb.md §5)
        shared_std=0.9,
        language_offset_std=0.6,
        language_interaction_std=0.3,
        id_prefix="mav",
    ),
}


def resolve_config(config: SimConfig | str, seed: int | None = None, **overrides: Any) -> SimConfig:
    """A validated config from a preset name or a config, with ``seed`` and field overrides applied."""
    if isinstance(config, str):
        if config not in PRESETS:
            raise KeyError(f"unknown simulation preset {config!r}; valid presets: {sorted(PRESETS)}")
        config = PRESETS[config]
    if not isinstance(config, SimConfig):
        raise TypeError(f"expected a SimConfig or a preset name, got {type(config).__name__}")
    known = {f.name for f in fields(SimConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown SimConfig override(s) {unknown}; valid: {sorted(known)}")
    if seed is not None:
        overrides["seed"] = int(seed)
    return replace(config, **overrides).validate()
