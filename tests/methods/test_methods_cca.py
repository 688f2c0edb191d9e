"""The CCA baseline as a method: same projections as the backend, checkpointable, training-free."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from methods_toy import planted

from facevoice.methods import METHODS


def _fitted(toy, **hp):
    m = METHODS.create("cca", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, n_pca=8, n_components=6, **hp)
    return m.fit_bundle(toy.face, toy.face_labels, toy.voice, toy.voice_labels)


def test_cca_embed_matches_the_backend_transform() -> None:
    toy = planted()
    method = _fitted(toy)
    assert method.trainable is False
    for modality, x in (("face", toy.face), ("voice", toy.voice)):
        ours = method.embed(x, modality).numpy()
        theirs = method.backend.transform(x.numpy(), modality)
        np.testing.assert_allclose(ours[:, : theirs.shape[1]], theirs, atol=1e-4)


def test_cca_embed_matches_the_backend_with_unequal_counts() -> None:
    """Fewer face than voice items for half the identities: the paired rows' mean moves away from the PCA
    mean, so the method's affine map must carry the backend's centring (an offset without it differs)."""
    toy = planted()
    labels = np.asarray(toy.face_labels)
    keep = ~((labels % 2 == 0) & (np.arange(len(labels)) % 3 != 0))
    face, face_labels = toy.face[torch.as_tensor(keep)], labels[keep]
    m = METHODS.create("cca", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, n_pca=8, n_components=6)
    m.fit_bundle(face, face_labels, toy.voice, toy.voice_labels)
    assert np.linalg.norm(m.backend.mean_["face"]) > 1e-3
    for modality, x in (("face", toy.face), ("voice", toy.voice)):
        ours = m.embed(x, modality).numpy()
        theirs = m.backend.transform(x.numpy(), modality)
        np.testing.assert_allclose(ours[:, : theirs.shape[1]], theirs, atol=1e-4)


def test_cca_state_dict_round_trip_without_refit() -> None:
    toy = planted()
    method = _fitted(toy)
    fresh = METHODS.create("cca", toy.face.shape[1], toy.voice.shape[1], toy.n_classes, n_pca=8, n_components=6)
    with pytest.raises(RuntimeError, match="before fit_bundle"):
        fresh.embed(toy.face, "face")
    fresh.load_state_dict(method.state_dict())
    assert torch.equal(fresh.embed(toy.voice, "voice"), method.embed(toy.voice, "voice"))


def test_cca_is_training_free() -> None:
    toy = planted()
    method = _fitted(toy)
    with pytest.raises(TypeError, match="training-free"):
        method.training_step(None, 0, 0)
    with pytest.raises(ValueError, match="pairing"):
        METHODS.create("cca", 4, 4, 2, pairing="random")
