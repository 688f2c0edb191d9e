"""Samplers and checkpoint round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_fixtures import TinyTwoBranch, make_tiny_bundle

from facevoice.runs.checkpoint import (
    CheckpointError,
    flatten_state,
    load_checkpoint,
    save_checkpoint,
    unflatten_state,
)
from facevoice.train.data import TrainData
from facevoice.train.samplers import make_sampler


@pytest.fixture(scope="module")
def data():
    return TrainData.from_bundle(make_tiny_bundle())


def _method(data, **hp):
    return TinyTwoBranch(data.d_face, data.d_voice, data.n_classes, **hp)


def test_train_data_classes_and_dropped():
    b = make_tiny_bundle()
    m = b.manifest.copy()
    # identity id000 keeps only its face items in train: it must be dropped (and listed), not silently kept
    drop = (m["identity"] == "id000") & (m["modality"] == "voice")
    from facevoice.data.bundle import EmbeddingBundle

    b2 = EmbeddingBundle(m[~drop], {"face": b.embeddings["face"], "voice": b.embeddings["voice"][6:]})
    d = TrainData.from_bundle(b2)
    assert d.dropped == ["id000"] and d.n_classes == 13 and "id000" not in d.classes
    assert len(d.face_labels) == 13 * 5 and d.face.dtype == torch.float32


def test_paired_sampler_pairs_same_identity_and_redraws_faces(data):
    s = make_sampler("paired", data, 16)
    rng = np.random.default_rng(0)
    m = _method(data)
    epochs = [list(s.epoch(e, 2, rng, m)) for e in range(2)]
    assert len(epochs[0]) == s.steps_per_epoch == 5  # 70 voice items, B=16: 4 full + a tail of 6
    face_rows = {}
    for e, batches in enumerate(epochs):
        seen = []
        for b in batches:
            # row i of face and voice belong to the same identity: recover rows by value lookup
            fi = torch.cdist(b.face, data.face).argmin(1).numpy()
            vi = torch.cdist(b.voice, data.voice).argmin(1).numpy()
            assert (data.face_labels[fi] == data.voice_labels[vi]).all()
            assert (b.labels.numpy() == data.voice_labels[vi]).all()
            seen.extend(vi.tolist())
            face_rows.setdefault(e, []).extend(fi.tolist())
        assert sorted(seen) == list(range(len(data.voice_labels)))  # every voice item once per epoch
    assert face_rows[0] != face_rows[1]


def test_one_per_identity_sampler_distinct(data):
    s = make_sampler("one_per_identity", data, 8)
    for b in s.epoch(0, 1, np.random.default_rng(1), _method(data)):
        assert len(set(b.labels.tolist())) == 8 == len(b.labels)
    with pytest.raises(ValueError, match="one_per_identity"):
        make_sampler("one_per_identity", data, 15)


def test_modality_sampler_follows_schedule(data):
    s = make_sampler("modality", data, 16)
    m = _method(data, order="hefhev")
    batches = list(s.epoch(0, 1, np.random.default_rng(2), m))
    mods = [b.modality for b in batches]
    half = s.steps_per_epoch // 2
    assert mods == ["face"] * half + ["voice"] * (len(mods) - half)
    assert all((b.face is None) == (b.modality == "voice") for b in batches)
    with pytest.raises(ValueError, match="unknown sampling"):
        make_sampler("pairs", data, 16)


def test_modality_sampler_mixed_order_pools_both_modalities(data):
    """A ``None`` schedule (SBNet ``random``): faces and voices shuffled together, B rows a batch."""
    s = make_sampler("modality", data, 16)
    batches = list(s.epoch(0, 1, np.random.default_rng(2), _method(data)))
    assert len(batches) == s.steps_per_epoch and all(b.modality is None for b in batches)
    n_face = n_voice = 0
    seen_f, seen_v = [], []
    for b in batches:
        assert len(b.labels) == len(b.face) + len(b.voice) == 16
        fi = torch.cdist(b.face, data.face).argmin(1).numpy() if len(b.face) else np.zeros(0, int)
        vi = torch.cdist(b.voice, data.voice).argmin(1).numpy() if len(b.voice) else np.zeros(0, int)
        # labels: the face rows first, then the voice rows, each its own identity (not paired)
        assert (b.labels.numpy() == np.concatenate([data.face_labels[fi], data.voice_labels[vi]])).all()
        n_face, n_voice = n_face + len(fi), n_voice + len(vi)
        seen_f.extend(fi.tolist())
        seen_v.extend(vi.tolist())
    assert n_face > 0 and n_voice > 0 and sum(0 < len(b.face) < 16 for b in batches) >= len(batches) // 2
    n_items = len(data.face_labels) + len(data.voice_labels)
    assert len(set(seen_f)) + len(set(seen_v)) == min(n_items, 16 * len(batches))  # one pass over the pool


def test_modality_sampler_pairs_schedule_gives_face_voice_pairs(data):
    """A ``"pairs"`` schedule (SBNet ``paired_rows``): B/2 pairs of one identity, voices once per epoch."""
    s = make_sampler("modality", data, 16)
    batches = list(s.epoch(0, 1, np.random.default_rng(3), _method(data, order="pairs")))
    assert len(batches) == s.steps_per_epoch  # ceil(70/16) + ceil(70/16) = 10 steps of 8 pairs
    seen = []
    for b in batches:
        assert len(b.face) == len(b.voice) == len(b.labels) == 8
        fi = torch.cdist(b.face, data.face).argmin(1).numpy()
        vi = torch.cdist(b.voice, data.voice).argmin(1).numpy()
        assert (data.face_labels[fi] == data.voice_labels[vi]).all()
        assert (b.labels.numpy() == data.voice_labels[vi]).all()
        seen.extend(vi.tolist())
    # the voice stream: 8 full steps (64 distinct items), then reshuffled, as for one-modality steps
    assert len(set(seen[:64])) == 64 and len(seen) == 80


def test_steps_per_epoch_override(data):
    s = make_sampler("paired", data, 16, steps_per_epoch=12)
    assert len(list(s.epoch(0, 1, np.random.default_rng(0), _method(data)))) == 12


def test_flatten_roundtrip_keeps_types():
    obj = {
        "state": {0: {"exp_avg": torch.arange(3.0), "step": torch.tensor(4.0)}},
        "groups": [{"betas": (0.9, 0.999), "lr": 1e-3, "params": [0, 1]}],
        "np": np.arange(5, dtype=np.uint32),
        "big": 2**100,
        "none": None,
    }
    tensors: dict = {}
    back = unflatten_state(json.loads(json.dumps(flatten_state(obj, tensors))), tensors)
    assert list(back["state"]) == [0] and torch.equal(back["state"][0]["exp_avg"], torch.arange(3.0))
    assert back["groups"][0]["betas"] == (0.9, 0.999) and back["big"] == 2**100
    assert back["np"].dtype == np.uint32 and (back["np"] == np.arange(5)).all()
    with pytest.raises(CheckpointError, match="cannot store"):
        flatten_state({"f": lambda: 0}, {})


def test_checkpoint_errors(tmp_path, data):
    m = _method(data)
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        load_checkpoint(tmp_path / "none", m)
    save_checkpoint(tmp_path / "ck", m, {"x": 1}, {"epoch": 3})
    state, meta = load_checkpoint(tmp_path / "ck", _method(data))
    assert state == {"x": 1} and meta == {"epoch": "3"}
    other = TinyTwoBranch(data.d_face + 1, data.d_voice, data.n_classes)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(tmp_path / "ck", other)
    # a crash between the two renames leaves only the .prev copy: still found
    (tmp_path / "ck").rename(tmp_path / "ck.prev")
    assert load_checkpoint(tmp_path / "ck", _method(data))[0] == {"x": 1}
