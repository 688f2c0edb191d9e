"""The ready example behind ``make app``: a run and two indexes built from the real data in ``../shared/data``.

What it is: the six people of the VoxCeleb1 sample (real VoxCeleb1 clips, face-track frames and VGGFace1
photos), embedded with the two packaged offline encoders (dlib face descriptor, resemblyzer), a run of
the ``example`` recipe trained on them, a face index (their faces + the 40 ORL people as distractors) and
a voice index (their clips + the 6 FSDD speakers as distractors). About a third of each person's videos
is held out of training (``test_seen``): their clips and frames are in the galleries and make honest
queries *for seen people*. What it is not: evidence of generalisation to people the run never saw,
which needs a run trained on a real corpus of many people (see docs/search.md).

Every step resumes: extraction by shards, training is skipped when the run is complete with the same
recipe, indexing adds only missing items.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from facevoice.core.log import get_logger
from facevoice.data.bundle import EmbeddingBundle
from facevoice.data.corpora.folder import list_files
from facevoice.data.corpora.voxceleb1 import prepare_voxceleb1
from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.data.splits import hold_out_videos
from facevoice.encoders import create_encoder
from facevoice.extract import extract
from facevoice.pipelines.data_sources import bundle_fingerprint
from facevoice.pipelines.index import build_index
from facevoice.pipelines.recipes import load_recipe
from facevoice.pipelines.run import train
from facevoice.store import EmbeddingStore
from facevoice.train.config import comparable_config, config_differences

log = get_logger(__name__)

RECIPE = "example/fop"
ENCODERS = {"face": ("dlib-face", {}), "voice": ("resemblyzer", {})}
HELD_OUT_VIDEOS = 1 / 3
NOTE = (
    "Example: a run trained on the 6 people of the real VoxCeleb1 sample (dlib face descriptor + resemblyzer), "
    "with 40 ORL faces and 6 FSDD speakers as distractors. It shows the mechanics on SEEN people: clips and "
    "frames of held-out videos of those 6 are found among the distractors. It says nothing about people the "
    "run never saw; that needs a run trained on a real corpus of many people."
)


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found (the example needs ../shared/data beside the clone)")
    return path


def example_manifest(data: str | Path, distractors: int | None = None) -> pd.DataFrame:
    """VoxCeleb1 sample (train + held-out videos as test_seen) + ORL faces and FSDD voices (split ``test``).

    ``distractors``: keep only the first that many ORL people and FSDD speakers (all when None).
    """
    data = Path(data)
    sample = _need(data / "voxceleb1_sample", "the VoxCeleb1 sample")
    meta = _need(data / "voxceleb1" / "vox1_meta.csv", "vox1_meta.csv")
    frames = prepare_voxceleb1(sample / "wav", sample / "faces", meta, split="ratios", ratios=(1.0, 0.0, 0.0))
    photos = prepare_voxceleb1(sample / "wav", sample / "vggface", meta, split="ratios", ratios=(1.0, 0.0, 0.0))
    photos = photos[photos["modality"] == "face"].copy()
    photos["item_id"] = photos["item_id"].str.replace("face:", "face:vggface/", n=1)
    vox = hold_out_videos(pd.concat([frames, photos], ignore_index=True), HELD_OUT_VIDEOS, seed=0)
    extra = []
    for f in list_files(_need(data / "orl_faces", "ORL faces")):
        if f.suffix.lower() == ".pgm":
            extra.append({"item_id": f"face:orl/{f.parent.name}/{f.name}", "identity": f"orl-{f.parent.name}",
                          "modality": "face", "path": str(f), "split": "test"})  # fmt: skip
    for f in list_files(_need(data / "fsdd_voices", "FSDD voices")):
        if f.suffix.lower() == ".wav":
            speaker = f.stem.split("_")[1]
            extra.append({"item_id": f"voice:fsdd/{f.name}", "identity": f"fsdd-{speaker}",
                          "modality": "voice", "path": str(f), "split": "test"})  # fmt: skip
    extra_df = pd.DataFrame(extra)
    if distractors is not None:
        keep = {m: sorted(g["identity"].unique())[:distractors] for m, g in extra_df.groupby("modality")}
        extra_df = extra_df[
            [ident in keep[m] for m, ident in zip(extra_df["modality"], extra_df["identity"], strict=True)]
        ]
    return make_manifest(pd.concat([vox, extra_df], ignore_index=True))


def _training_bundle(manifest: pd.DataFrame, stores: dict[str, EmbeddingStore]) -> EmbeddingBundle:
    """The VoxCeleb1 items that were embedded (skipped ones are left out, and counted in the log)."""
    keep = manifest["split"].isin(["train", "test_seen"])
    for m, store in stores.items():
        rows = manifest["modality"] == m
        missing = keep & rows & ~manifest["item_id"].isin(store.done_ids())
        if missing.any():
            log.info("%d %s item(s) not embedded (see %s/skip_report.csv), left out", int(missing.sum()), m, store.root)
        keep &= ~missing
    df = manifest[keep].reset_index(drop=True)
    emb = {m: s.read(df.loc[df["modality"] == m, "item_id"].tolist()) for m, s in stores.items()}
    return EmbeddingBundle(
        df, emb, {m: s.encoder_tag for m, s in stores.items()}, {m: s.meta["meta"] for m, s in stores.items()}
    )


def _train_once(config: dict[str, Any], bundle: EmbeddingBundle, run_dir: Path) -> Path:
    """Train unless ``run_dir`` already holds a complete run of the same recipe on the same data."""
    info_path = run_dir / "run.json"
    if info_path.is_file() and (run_dir / "config.yaml").is_file():
        info = json.loads(info_path.read_text())
        before = comparable_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
        same_recipe = not config_differences(before, comparable_config(config))
        old, new = info.get("data", {}), bundle_fingerprint(bundle)
        same_data = all(old.get(k) == new[k] for k in ("manifest_sha256", "embeddings_sha256"))
        if info.get("status") == "complete" and same_recipe and same_data:
            return run_dir
    return train(config, bundle=bundle, run_dir=run_dir, resume=False)


def build_example(
    data: str | Path,
    out: str | Path,
    *,
    progress: bool = True,
    workers: int = 2,
    distractors: int | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Manifest, extraction, run and the two indexes under ``out``; returns their paths and counts.

    ``distractors``: how many ORL people and FSDD speakers to add (all when None; tests use a few).
    ``overrides``: dotted overrides of the ``example/fop`` recipe.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = example_manifest(data, distractors)
    write_manifest(manifest, out / "manifest.parquet")
    stores = {}
    for m, (name, options) in ENCODERS.items():
        encoder = create_encoder(name, **options)
        extract(manifest, encoder, out / "stores" / m, num_workers=workers, progress=progress, media_root=None)
        stores[m] = EmbeddingStore.open(out / "stores" / m)
    config = load_recipe(RECIPE, overrides or [])
    config.pop("_recipe", None)
    config["train"] = {**config.get("train", {}), "progress": progress}
    run_dir = _train_once(config, _training_bundle(manifest, stores), out / "run")
    reports = {}
    for m, name in (("face", "faces"), ("voice", "voices")):
        reports[name] = build_index(
            run_dir, stores[m].root, m, out / name, manifest=out / "manifest.parquet", progress=progress, note=NOTE
        )
    return {"run": str(run_dir), "faces": str(out / "faces"), "voices": str(out / "voices"), "indexes": reports}
