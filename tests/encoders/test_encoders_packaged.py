"""Real packaged encoders on real data: dlib on ORL faces, resemblyzer on FSDD voices.

Both must separate identities (unimodal verification EER over all pairs of a few identities); the
measured EERs are printed (``pytest -s``) for the report.
"""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.core.types import SkipItem
from facevoice.encoders import create_encoder
from facevoice.eval.metrics import eer


def _pair_eer(X: np.ndarray, ids: list[str], score: str) -> float:
    ids_a = np.asarray(ids)
    iu = np.triu_indices(len(ids_a), 1)
    if score == "cosine":
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        S = Xn @ Xn.T
    else:  # negative Euclidean distance (dlib's metric)
        S = -np.linalg.norm(X[:, None] - X[None], axis=-1)
    labels = (ids_a[:, None] == ids_a[None])[iu].astype(int)
    return float(eer(S[iu], labels).eer)


@pytest.fixture(scope="module")
def dlib_encoder():
    return create_encoder("dlib-face", fallback="whole")


def test_dlib_separates_orl_identities(shared_data, dlib_encoder):
    people = ["s1", "s2", "s3", "s4", "s5"]
    files = [shared_data / "orl_faces" / p / f"{k}.pgm" for p in people for k in (1, 4, 7)]
    items = [dlib_encoder.load(f) for f in files]
    sources = [it.notes["face_source"] for it in items]
    assert all(len(it.parts) == 1 and it.parts[0].shape == (150, 150, 3) for it in items)
    X = dlib_encoder.encode([it.parts[0] for it in items]).embeddings
    assert X.shape == (len(files), 128) and np.isfinite(X).all()
    ids = [f.parent.name for f in files]
    value = _pair_eer(X, ids, "euclidean")
    print(f"\ndlib ORL: {sources.count('detected')}/{len(files)} faces detected, EER {100 * value:.1f}%")
    assert sources.count("detected") >= len(files) // 2  # the 23x28 images need upsampling, most are found
    assert value < 0.2


def test_dlib_skip_policy_on_faceless_image(tmp_path, dlib_encoder):
    from PIL import Image

    path = tmp_path / "wall.png"
    Image.fromarray(np.full((120, 100, 3), 128, np.uint8)).save(path)
    with pytest.raises(SkipItem) as err:
        create_encoder("dlib-face", fallback="skip").load(path)
    assert err.value.reason == "no_face"
    item = dlib_encoder.load(path)
    assert item.notes == {"face_source": "whole_image"}
    assert "fallback=whole" in dlib_encoder.tag and "fallback=skip" in create_encoder("dlib-face").tag


def test_resemblyzer_separates_fsdd_speakers(shared_data):
    enc = create_encoder("resemblyzer")
    speakers = ["george", "jackson", "lucas", "theo"]
    files = [shared_data / "fsdd_voices" / f"{d}_{s}_{t}.wav" for s in speakers for d in (0, 2, 4) for t in (0, 1)]
    items = [enc.load(f) for f in files]
    X = enc.encode([it.parts[0] for it in items]).embeddings
    assert X.shape == (len(files), 256) and np.isfinite(X).all()
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    solo = enc.encode([items[3].parts[0]]).embeddings[0]
    np.testing.assert_allclose(X[3], solo, rtol=1e-4, atol=1e-5)  # batching partial windows changes nothing
    value = _pair_eer(X, [f.name.split("_")[1] for f in files], "cosine")
    print(f"\nresemblyzer FSDD (8 kHz -> 16 kHz): EER {100 * value:.1f}%")
    assert value < 0.3
    assert enc.tag.startswith("resemblyzer:") and len(enc.weights_hash) == 64


def test_resemblyzer_skips_silence(tmp_path):
    import soundfile as sf

    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    with pytest.raises(SkipItem) as err:
        create_encoder("resemblyzer").load(path)
    assert err.value.reason == "silent"


def test_dlib_loading_is_thread_safe(shared_data, dlib_encoder):
    from facevoice.extract.plan import ordered_prefetch

    files = sorted((shared_data / "orl_faces").glob("s1[0-9]/*.pgm"))[:16]
    sequential = [dlib_encoder.load(f).parts[0] for f in files]
    for _ in range(2):  # a detector / predictor shared by threads segfaulted here
        threaded = [item.parts[0] for _, item in ordered_prefetch(dlib_encoder.load, files, workers=4, window=16)]
        assert all(np.array_equal(a, b) for a, b in zip(sequential, threaded, strict=True))
