"""Embedding new media (and user-supplied feature vectors) the way a run's training data was embedded.

A run's ``inputs`` (:mod:`facevoice.runs.inputs`) name the encoder of each modality and how it was
built. :func:`input_encoder` rebuilds it and checks that its tag (options + weights hash) is the one
the run was trained on; a run trained on features facevoice cannot compute (FOP CSVs, simulated or
imported data) is refused for media with one line, and accepts only feature vectors
(:meth:`RunEmbedder.project`). Files are read, embedded and averaged over their parts (video frames)
exactly as ``facevoice extract`` does, then projected through the run's branch for the modality and
L2-normalised, so cosine similarity is an inner product.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.core.hashing import file_sha256
from facevoice.core.types import SkipItem
from facevoice.encoders import ENCODERS, Encoder
from facevoice.extract.build import build_encoder
from facevoice.methods.base import Method
from facevoice.runs.checkpoint import MODEL_FILE, CheckpointError, resolve_checkpoint
from facevoice.runs.inputs import run_inputs
from facevoice.runs.loading import embed_array, load_method


class MediaInputError(ValueError):
    """A run cannot embed this input: its features came from elsewhere, or the encoder differs."""


def run_weights_sha256(run_dir: str | Path, which: str = "best") -> str:
    """SHA-256 of the run's ``checkpoints/<which>/model.safetensors`` (identifies the exact weights)."""
    found = resolve_checkpoint(Path(run_dir) / "checkpoints" / which)
    if found is None:
        raise CheckpointError(f"{run_dir}: no complete checkpoints/{which}")
    return file_sha256(found / MODEL_FILE)


def _default_build(tag: str) -> dict[str, Any] | None:
    """For runs recorded before encoders kept their build arguments: a registered encoder's name from
    the tag (``name:options#hash``), to try with its default options."""
    name = tag.partition(":")[0]
    return {"name": name, "options": {}} if name and ":" in tag and "#" in tag and name in ENCODERS else None


def input_encoder(run_dir: str | Path, modality: str, device: str | None = None) -> Encoder:
    """The encoder that produced the run's ``modality`` inputs, rebuilt and checked against its tag."""
    inputs = run_inputs(run_dir)
    if modality not in inputs:
        raise MediaInputError(f"{run_dir}: the run has no {modality} inputs")
    spec = inputs[modality]
    tag = str(spec.get("tag", ""))
    build = spec.get("build") if spec.get("kind") == "encoder" else None
    guessed = build is None
    if guessed:
        build = _default_build(tag)
    if build is None:
        raise MediaInputError(
            f"{run_dir}: its {modality} inputs are pre-extracted features ({tag or 'no encoder recorded'}, "
            f"{spec.get('dim')}-d) that facevoice cannot compute from media; give {modality} vectors instead "
            "(an embedding store or bundle of those features, or a .npy file)"
        )
    options = dict(build.get("options") or {})
    source = options.pop("source", None)
    takes_device = "device" in inspect.signature(ENCODERS.get(str(build["name"]))).parameters  # dlib has none
    encoder = build_encoder(str(build["name"]), source, options, device if takes_device else None)
    if encoder.tag != tag:
        how = "with default options (the run predates recorded encoder options)" if guessed else "here"
        raise MediaInputError(
            f"{run_dir}: its {modality} inputs came from encoder {tag!r}, but the encoder built {how} is "
            f"{encoder.tag!r} (other options or weights); re-extract with the run's encoder or give vectors"
        )
    return encoder


@dataclass
class EmbeddedFile:
    """One file's encoder output ``features`` (D_in,), or the reason it could not be embedded."""

    path: str
    features: np.ndarray | None = None
    reason: str = ""
    detail: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.features is not None


def encode_files(encoder: Encoder, paths: Sequence[str | Path], batch_size: int = 16) -> list[EmbeddedFile]:
    """Load and embed files with ``encoder`` as ``extract`` does (mean over an item's parts).

    Never raises for a bad file: it comes back with a skip ``reason`` (``missing``, ``unreadable``,
    ``silent``, ``no_face``, ``encode_error``, ...) and a ``detail`` naming it.
    """
    out = [EmbeddedFile(str(p)) for p in paths]
    parts: list[Any] = []
    owners: list[int] = []
    for i, p in enumerate(paths):
        try:
            loaded = encoder.load(p)
            if not loaded.parts:
                raise SkipItem("empty", f"{p}: nothing to encode")
        except SkipItem as skip:
            detail = skip.detail if str(p) in skip.detail else f"{p}: {skip.detail}"  # every detail names its file
            out[i].reason, out[i].detail = skip.reason, detail
            continue
        except Exception as exc:  # a decoder bug on one file must not stop the others
            out[i].reason, out[i].detail = "unreadable", f"{p}: {type(exc).__name__}: {exc}"[:400]
            continue
        out[i].notes = dict(loaded.notes)
        parts += loaded.parts
        owners += [i] * len(loaded.parts)
    per_item: dict[int, list[np.ndarray]] = {}
    for start in range(0, len(parts), batch_size):
        chunk, who = parts[start : start + batch_size], owners[start : start + batch_size]
        try:
            emb = encoder.encode(chunk).embeddings
        except Exception as exc:
            for i in set(who):
                out[i].reason, out[i].detail = "encode_error", f"{type(exc).__name__}: {exc}"[:400]
            continue
        for j, i in enumerate(who):
            per_item.setdefault(i, []).append(emb[j])
    for i, vecs in per_item.items():
        if out[i].reason:
            continue
        vec = np.mean(np.stack(vecs), axis=0).astype(np.float32)
        if not np.isfinite(vec).all():
            out[i].reason, out[i].detail = "encode_error", f"{paths[i]}: non-finite embedding"
            continue
        out[i].features = vec
    return out


def l2_normalise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``X`` (n, D) scaled to unit norm (float32) and the mask of rows that could be (finite, norm > 0)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1) if X.size else np.zeros(len(X), np.float32)
    ok = np.isfinite(norms) & (norms > 1e-12)
    out = np.zeros_like(X)
    out[ok] = X[ok] / norms[ok, None]
    return out, ok


class RunEmbedder:
    """A run's method plus the encoders of its inputs: media files or features → unit vectors (n, D)."""

    def __init__(
        self, run_dir: str | Path, which: str = "best", device: str = "cpu", method: Method | None = None
    ) -> None:
        self.run_dir, self.which, self.device = Path(run_dir), which, device
        self.method = method if method is not None else load_method(run_dir, which, device=device)
        self.inputs = run_inputs(run_dir)
        self._encoders: dict[str, Encoder] = {}

    def input_dim(self, modality: str) -> int:
        return self.method.d_face if modality == "face" else self.method.d_voice

    def encoder(self, modality: str) -> Encoder:
        """The run's encoder for ``modality`` (built on first use; raises :class:`MediaInputError`)."""
        if modality not in self._encoders:
            self._encoders[modality] = input_encoder(self.run_dir, modality, self.device)
        return self._encoders[modality]

    def project(self, features: np.ndarray, modality: str) -> tuple[np.ndarray, np.ndarray]:
        """Input features (n, D_in) → the run's unit-norm embeddings (n, D) and a mask of usable rows."""
        X = np.asarray(features, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.input_dim(modality):
            raise MediaInputError(
                f"{modality} vectors must be (n, {self.input_dim(modality)}) for run {self.run_dir}, got {X.shape}"
            )
        finite = np.isfinite(X).all(axis=1)
        Z = np.zeros((len(X), 0), np.float32)
        if len(X):
            Z = embed_array(self.method, np.where(finite[:, None], X, 0.0), modality, device=self.device)
        Z, ok = l2_normalise(Z)
        return Z, ok & finite

    def embed_files(self, paths: Sequence[str | Path], modality: str) -> tuple[list[EmbeddedFile], np.ndarray]:
        """Files → per-file outcomes and the unit embeddings (n_ok, D) of the ones that worked, in order."""
        done = encode_files(self.encoder(modality), paths)
        good = [f for f in done if f.ok]
        if not good:
            return done, np.zeros((0, 0), np.float32)
        Z, ok = self.project(np.stack([f.features for f in good]), modality)
        for f, fine in zip(good, ok, strict=True):
            if not fine:
                f.features, f.reason, f.detail = None, "encode_error", f"{f.path}: zero or non-finite projection"
        return done, Z[ok]
