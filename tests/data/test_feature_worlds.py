"""The feature-CSV worlds of benchmarks/feature_worlds.py: valid FOP-style files, disjoint test people, signal."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import REPO_ROOT
from facevoice.data.formats.fop import read_fop_features, read_fop_verification_list


def _worlds():
    spec = importlib.util.spec_from_file_location("feature_worlds", REPO_ROOT / "benchmarks" / "feature_worlds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("story", ["linear", "relu", "clusters", "simceleb"])
def test_world_files_are_fop_style_with_unseen_test_people(story, tmp_path):
    worlds = _worlds()
    out = worlds.make_world(
        story, tmp_path, seed=1, n_train=12, n_test=8, rows_per_id=6, n_trials=60, d_face=64, d_voice=48
    )
    train = read_fop_features(out / "face_train.csv", out / "voice_train.csv")
    assert train.face.shape == (72, 64) and train.voice.shape == (72, 48)
    assert len(set(train.labels)) == 12 and np.isfinite(train.face).all() and np.isfinite(train.voice).all()
    test = read_fop_verification_list(out / "face_test.csv", out / "voice_test.csv", face_dim=64, voice_dim=48)
    assert len(test.labels) == 60 and test.labels.sum() == 30  # half targets
    people = set(np.loadtxt(out / "face_test.csv", delimiter=",", dtype=str, usecols=-1))
    assert not people & set(train.labels)  # unseen-unheard
    # same seed, same files; another seed, other people of the same world
    again = worlds.make_world(
        story, tmp_path / "b", seed=1, n_train=12, n_test=8, rows_per_id=6, n_trials=60, d_face=64, d_voice=48
    )
    assert (again / "voice_train.csv").read_bytes() == (out / "voice_train.csv").read_bytes()


def test_worlds_carry_cross_modal_signal(tmp_path):
    """Within-identity face-voice correlation of the leading shared direction beats chance in every story."""
    worlds = _worlds()
    for story in ("linear", "relu", "clusters"):
        face, voice, ids = worlds.STORIES[story](300, 2, 0, d_face=64, d_voice=48)
        f = face - face.mean(0)
        v = voice - voice.mean(0)
        # identity means of each modality, then the best linear correlation (first canonical correlation)
        fm = np.stack([f[ids == i].mean(0) for i in range(300)])
        vm = np.stack([v[ids == i].mean(0) for i in range(300)])
        uf, _, _ = np.linalg.svd(fm, full_matrices=False)
        uv, _, _ = np.linalg.svd(vm, full_matrices=False)
        rho = np.linalg.svd(uf[:, :10].T @ uv[:, :10], compute_uv=False)[0]
        assert rho > 0.5, story
