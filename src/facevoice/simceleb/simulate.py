"""``simceleb``: a documented generative model of face and voice embeddings of the same people.

Per identity: gender, nationality, age band (demographic latent ``mu_a``), a weaker idiosyncratic
shared factor ``s_i``, per-modality expression noise ``e_i``, strong modality-specific identity
factors ``t_i``; per video: session offsets per modality (and the video's language, which shifts
the voice by ``o_l + r_il``); per item: noise. The latent code ``z`` of each item is mapped through a
fixed random injective non-linear map to a 4096-d "face" or 512-d "voice" vector. The full model,
the presets and the oracle are described in docs/simceleb.md.

``simulate("vox1", seed=0)`` returns a :class:`SimResult` whose ``bundle`` is what the methods
see; ``latents`` (kept apart from the bundle) feed the Bayes-optimal :mod:`oracle
<facevoice.simceleb.oracle>`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.manifest import make_manifest
from facevoice.simceleb.oracle import SimOracle
from facevoice.simceleb.presets import SimConfig, resolve_config
from facevoice.simceleb.result import SimLatents, SimResult
from facevoice.simceleb.world import World, build_world, one_blas_thread

__all__ = ["load_simulation", "save_simulation", "simulate"]

_FORMAT = 1
_SAMPLE_STREAMS = {"attributes": 1, "split": 2, "identity": 3, "session": 4, "noise": 5}


def _rng(seed: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0xFACE, _SAMPLE_STREAMS[purpose]]))


def simulate(config: SimConfig | str = "vox1", seed: int | None = None, **overrides: Any) -> SimResult:
    """Simulate a benchmark from a preset name (``PRESETS``) or a :class:`SimConfig`.

    ``seed`` (sampled people and items) and any config field given in ``overrides`` replace the
    config's values; the fixed world (attribute geometry, maps) follows ``world_seed``. Same
    config -> bit-identical result, whatever the BLAS thread count (it runs with one BLAS thread,
    see :func:`~facevoice.simceleb.world.one_blas_thread`).
    """
    with one_blas_thread():
        result = _simulate(resolve_config(config, seed=seed, **overrides))
    result.oracle = SimOracle(result)
    return result


def _simulate(cfg: SimConfig) -> SimResult:
    world = build_world(cfg)
    n, k, n_lang = cfg.n_identities, cfg.k_shared, len(cfg.languages)
    d_vl = cfg.k_shared + cfg.k_voice
    var = world.variances
    # identities: attributes, split, identity-level factors
    combo = _rng(cfg.seed, "attributes").choice(len(world.combos), size=n, p=np.exp(world.log_prior))
    split = np.empty(n, dtype=object)
    perm = _rng(cfg.seed, "split").permutation(n)
    split[perm[: cfg.n_train]] = "train"
    split[perm[cfg.n_train : cfg.n_train + cfg.n_val]] = "val"
    split[perm[cfg.n_train + cfg.n_val :]] = "test_unseen"
    rng = _rng(cfg.seed, "identity")
    shared = world.means[combo] + np.sqrt(var.s) * rng.standard_normal((n, k))
    face_id = np.concatenate(
        [shared + np.sqrt(var.e) * rng.standard_normal((n, k)), _normal(rng, var.t, n, cfg.k_face)], 1
    )
    voice_id = np.concatenate(
        [shared + np.sqrt(var.e) * rng.standard_normal((n, k)), _normal(rng, var.t, n, cfg.k_voice)], 1
    )
    voice_lang = world.language_offsets[None] + _normal(rng, var.r, n, n_lang, d_vl)  # (n, L, d_vl)
    # videos: language, split (the last test_seen_videos per language of a train identity are test_seen)
    v_lang = np.concatenate([np.full(v, li) for li, v in enumerate(cfg.videos_per_language)])
    held = np.concatenate([np.arange(v) >= v - cfg.test_seen_videos for v in cfg.videos_per_language])
    n_vid = len(v_lang)
    sess = _rng(cfg.seed, "session")
    face_sess = _normal(sess, var.c, n, n_vid, face_id.shape[1])
    voice_sess = _normal(sess, var.c, n, n_vid, d_vl)
    noise = _rng(cfg.seed, "noise")
    ids = [f"{cfg.id_prefix}{i:05d}" for i in range(n)]
    frames, latents = [], {}
    for mod, per_video in (("face", cfg.face_items_per_video), ("voice", cfg.voice_items_per_video)):
        ident = np.repeat(np.arange(n), n_vid * per_video)
        vid = np.tile(np.repeat(np.arange(n_vid), per_video), n)
        item = np.tile(np.arange(per_video), n * n_vid)
        if mod == "face":
            z = face_id[ident] + face_sess[ident, vid]
        else:
            z = voice_id[ident] + voice_lang[ident, v_lang[vid]] + voice_sess[ident, vid]
        latents[mod] = z + np.sqrt(var.eps) * noise.standard_normal(z.shape)
        frames.append(_manifest_rows(cfg, world, mod, ids, ident, vid, item, combo, split, v_lang, held))
    manifest = make_manifest(pd.concat(frames, ignore_index=True))
    embeddings = {"face": world.face_map(latents["face"]), "voice": world.voice_map(latents["voice"])}
    tags = {m: f"simceleb-{cfg.name}-{cfg.digest()}-{m}" for m in ("face", "voice")}
    meta = {"simulator": "facevoice.simceleb.simulate", "config_digest": cfg.digest(), "world": world.fingerprint()}
    bundle = EmbeddingBundle(manifest, embeddings, tags, meta)
    return SimResult(bundle, SimLatents(latents["face"], latents["voice"], shared, ids), cfg, world)


def _normal(rng: np.random.Generator, variance: float, *shape: int) -> np.ndarray:
    return np.sqrt(variance) * rng.standard_normal(shape)


def _manifest_rows(
    cfg: SimConfig,
    world: World,
    modality: str,
    ids: list[str],
    ident: np.ndarray,
    vid: np.ndarray,
    item: np.ndarray,
    combo: np.ndarray,
    split: np.ndarray,
    v_lang: np.ndarray,
    held: np.ndarray,
) -> pd.DataFrame:
    identity = np.asarray(ids, dtype=object)[ident]
    video = np.char.add(np.char.add(identity.astype(str), "_v"), np.char.zfill(vid.astype(str), 2))
    item_split = split[ident].copy()
    item_split[(item_split == "train") & held[vid]] = "test_seen"
    attrs = np.asarray(world.combos, dtype=object)[combo[ident]]
    return pd.DataFrame(
        {
            "item_id": np.char.add(np.char.add(video, f"_{modality}"), item.astype(str)),
            "identity": identity,
            "modality": modality,
            "video": video,
            "split": item_split,
            "gender": attrs[:, 0],
            "nationality": attrs[:, 1],
            "age_band": attrs[:, 2],
            "language": np.asarray(cfg.languages, dtype=object)[v_lang[vid]],
        }
    )


def save_simulation(result: SimResult, root: str | Path) -> Path:
    """Write the bundle (``bundle.save``) plus ``simulation.json`` (config) and ``latents.npz`` under ``root``.

    ``root`` must be new or empty, so stores from different simulations are never mixed.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: refusing to save a simulation into a non-empty directory")
    result.bundle.save(root)
    lat = result.latents
    np.savez(
        root / "latents.npz",
        face=lat.face,
        voice=lat.voice,
        shared=lat.shared,
        identities=np.asarray(lat.identities, dtype=str),
        face_ids=result.bundle.rows("face")["item_id"].to_numpy(dtype=str),
        voice_ids=result.bundle.rows("voice")["item_id"].to_numpy(dtype=str),
    )
    info = {"format": _FORMAT, "config": result.config.to_dict(), "world": result.world.fingerprint()}
    (root / "simulation.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    return root


def load_simulation(root: str | Path) -> SimResult:
    """Load what :func:`save_simulation` wrote; the world is rebuilt and checked against its fingerprint."""
    root = Path(root)
    info_path = root / "simulation.json"
    if not info_path.exists():
        raise FileNotFoundError(f"{root}: not a saved simulation (no simulation.json)")
    try:
        info = json.loads(info_path.read_text())
        cfg = SimConfig.from_dict(info["config"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{info_path}: unreadable simulation description ({type(exc).__name__}: {exc})") from exc
    if info.get("format") != _FORMAT:
        raise ValueError(f"{info_path}: simulation format {info.get('format')!r}, this version reads {_FORMAT}")
    with one_blas_thread():
        world = build_world(cfg)
    if world.fingerprint() != info.get("world"):
        raise ValueError(
            f"{info_path}: the simulator's fixed world changed since this simulation was saved "
            f"(fingerprint {info.get('world')} != {world.fingerprint()}); re-simulate it"
        )
    bundle = EmbeddingBundle.load(root)
    with np.load(root / "latents.npz", allow_pickle=False) as z:
        arrays = {key: z[key] for key in z.files}
    lat = {}
    for mod in ("face", "voice"):
        pos = {item: i for i, item in enumerate(arrays[f"{mod}_ids"])}
        want = bundle.rows(mod)["item_id"]
        missing = [i for i in want if i not in pos]
        if missing:
            raise ValueError(f"{root / 'latents.npz'}: no {mod} latents for {len(missing)} item(s), e.g. {missing[:3]}")
        lat[mod] = arrays[mod][[pos[i] for i in want]]
    latents = SimLatents(lat["face"], lat["voice"], arrays["shared"], arrays["identities"].tolist())
    result = SimResult(bundle, latents, cfg, world)
    result.oracle = SimOracle(result)
    return result
