"""A planted face–voice toy problem and a minimal step loop that feeds a method as its contract says.

Each identity has a latent vector; faces and voices are two different random linear maps of it
plus noise, so a method that learns the identity structure of both modalities can match them.
The loop follows ``facevoice.methods.base``: batches per :attr:`Method.sampling`, the modality from
:meth:`Method.modality_schedule`, weights from :meth:`Method.sample_weights`, then the hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facevoice.backends.scores import CosineScore
from facevoice.methods.base import Batch, Method


@dataclass
class Toy:
    face: torch.Tensor
    voice: torch.Tensor
    face_labels: torch.Tensor
    voice_labels: torch.Tensor
    n_classes: int


def planted(
    n_classes: int = 6, per_id: int = 8, d_face: int = 20, d_voice: int = 12, noise: float = 0.3, seed: int = 0
):
    """``per_id`` face and voice items per identity, sizes ``d_face`` / ``d_voice``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_classes, 6))
    a_f, a_v = rng.normal(size=(6, d_face)), rng.normal(size=(6, d_voice))
    labels = np.repeat(np.arange(n_classes), per_id)
    face = z[labels] @ a_f + noise * rng.normal(size=(len(labels), d_face))
    voice = z[labels] @ a_v + noise * rng.normal(size=(len(labels), d_voice))
    t = torch.as_tensor
    return Toy(t(face, dtype=torch.float32), t(voice, dtype=torch.float32), t(labels), t(labels), n_classes)


def make_batch(
    method: Method, toy: Toy, rng: np.random.Generator, step: int, epoch: int, spe: int, n_epochs: int, bs: int
):
    """One batch of the kind ``method.sampling`` asks for."""

    def member(labels: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor([rng.choice(np.flatnonzero(pool.numpy() == y)) for y in labels.tolist()])

    mod = method.modality_schedule(epoch, n_epochs, step % spe, spe) if method.sampling == "modality" else None
    if mod == "pairs":  # face-voice pairs of one identity, bs rows in all
        v_rows = torch.as_tensor(rng.choice(len(toy.voice_labels), bs // 2, replace=False))
        labels = toy.voice_labels[v_rows]
        batch = Batch(labels, face=toy.face[member(labels, toy.face_labels)], voice=toy.voice[v_rows])
    elif method.sampling == "modality":
        mod = mod or str(rng.choice(["face", "voice"]))
        pool = toy.face_labels if mod == "face" else toy.voice_labels
        rows = torch.as_tensor(rng.choice(len(pool), bs, replace=False))
        x = (toy.face if mod == "face" else toy.voice)[rows]
        labels = pool[rows]
        batch = Batch(labels, face=x if mod == "face" else None, voice=x if mod == "voice" else None, modality=mod)
    else:
        if method.sampling == "one_per_identity":
            labels = torch.as_tensor(rng.choice(toy.n_classes, min(bs, toy.n_classes), replace=False))
            v_rows = member(labels, toy.voice_labels)
        else:
            v_rows = torch.as_tensor(rng.choice(len(toy.voice_labels), bs, replace=False))
            labels = toy.voice_labels[v_rows]
        f_rows = member(labels, toy.face_labels)
        batch = Batch(labels, face=toy.face[f_rows], voice=toy.voice[v_rows])
    batch.weights = method.sample_weights(batch.labels)
    batch.identity_index = batch.labels
    return batch


def run_steps(method: Method, toy: Toy, n_steps: int, bs: int = 16, seed: int = 0, spe: int = 6) -> list[float]:
    """Train ``n_steps`` steps (``spe`` steps per epoch); return the loss of every step."""
    rng = np.random.default_rng(seed)
    n_epochs = -(-n_steps // spe)
    if type(method).prepare is not Method.prepare:  # data-dependent set-up before the first epoch
        method.prepare(toy_arrays(toy), None)
    opt, sched = method.configure_optimizer(n_steps)
    method.train()
    losses = []
    for step in range(n_steps):
        epoch = step // spe
        if step % spe == 0:
            method.on_epoch_start(epoch, n_epochs)
        batch = make_batch(method, toy, rng, step, epoch, spe, n_epochs, bs)
        out = method.training_step(batch, step, epoch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        if sched is not None:
            sched.step()
        method.on_step_end(batch, out, step)
        losses.append(float(out["loss"].detach()))
    method.eval()
    return losses


def toy_arrays(toy: Toy) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The toy as the ``{"face": (X, identities), "voice": ...}`` arrays of the set-up hooks."""
    return {m: (getattr(toy, m).numpy(), getattr(toy, f"{m}_labels").numpy().astype(str)) for m in ("face", "voice")}


@torch.no_grad()
def voice_to_face_accuracy(method: Method, toy: Toy) -> float:
    """Share of voice items whose most similar face identity is their own: the cosine to each identity's
    face centroid, or, for a method with its own score back-end, the mean score against its faces."""
    backend = method.score_backend()
    if backend.llr or not isinstance(backend, CosineScore):
        F = backend.vectors(method.embed(toy.face, "face").double().numpy(), "face")
        V = backend.vectors(method.embed(toy.voice, "voice").double().numpy(), "voice")
        S = torch.as_tensor(backend.matrix_scores(F, V))  # (n_face, n_voice)
        per_id = torch.stack([S[toy.face_labels == c].mean(0) for c in range(toy.n_classes)])
        return float((per_id.argmax(0) == toy.voice_labels).float().mean())
    ef = torch.nn.functional.normalize(method.embed(toy.face, "face"), dim=1)
    ev = torch.nn.functional.normalize(method.embed(toy.voice, "voice"), dim=1)
    cents = torch.stack([ef[toy.face_labels == c].mean(0) for c in range(toy.n_classes)])
    pred = (ev @ torch.nn.functional.normalize(cents, dim=1).T).argmax(1)
    return float((pred == toy.voice_labels).float().mean())
