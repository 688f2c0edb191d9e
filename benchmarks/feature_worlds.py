"""FOP-style feature CSVs from four generative stories, to check a recipe is not tuned to one simulator.

``python benchmarks/feature_worlds.py STORY OUT [--seed 0] [--rows-per-id 24] [--n-train 230] [--n-test 100]``
writes ``OUT/{face,voice}_train.csv`` (headerless, features then the identity label, row i of both files
is one identity, as the FOP / SBNet / PAEFF releases) and ``OUT/{face,voice}_test.csv``: a verification
list of ``--trials`` (6,000) unseen-unheard trials, half targets, row i of both files = trial i, labels
in the last column. Defaults follow the issue's hidden check: 2048-d faces, 192-d voices, 230 training
identities. ``feature_csv_robustness.py`` trains recipes on them through the CLI.

The stories differ in what links a face to a voice and in what the features look like:

``linear``
    One shared Gaussian identity factor (16-d) plus modality-specific ones, random *linear* maps to
    2048 / 192 dimensions, isotropic noise. The world a linear-Gaussian back-end is made for.
``relu``
    A two-class ("gender") shared factor; the voice expresses a smooth non-linear warp of it
    (``s + w tanh(R s)``); faces are non-negative ReLU features of a random two-layer network (like
    pooled CNN features), voices signed and standardised per row (like speaker embeddings); four
    sessions per identity. Strength of the warp: ``--warp``.
``clusters``
    Six population clusters, each with its own rotation of the shared factor between face and voice
    (a piecewise-linear cross-modal relation); heavy-tailed (Student-t) item noise; softplus faces,
    tanh-network voices.
``simceleb``
    facevoice's own simulator (docs/simceleb.md) at 2048 / 192 dimensions with another world seed:
    demographic mixture, injective non-linear maps.

Every array is drawn from ``numpy.random.default_rng`` streams: the world (maps) from a fixed
per-story seed, the people and items from ``--seed``, so two seeds are two populations of one world.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

Story = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def story_linear(n_ids: int, rows_per_id: int, seed: int, d_face: int = 2048, d_voice: int = 192, **_):
    """Linear-Gaussian world (module docstring). Returns face (n, d_face), voice (n, d_voice), identity (n,)."""
    k, kf, kv = 16, 32, 16
    w = np.random.default_rng(31)
    Af = w.standard_normal((k + kf, d_face)) / np.sqrt(k + kf)
    Av = w.standard_normal((k + kv, d_voice)) / np.sqrt(k + kv)
    r = np.random.default_rng([seed, 1])
    s, tf, tv = r.standard_normal((n_ids, k)), r.standard_normal((n_ids, kf)), r.standard_normal((n_ids, kv))
    ids = np.repeat(np.arange(n_ids), rows_per_id)
    n = len(ids)
    zf = np.hstack([s[ids], tf[ids]]) + 0.6 * r.standard_normal((n, k + kf))
    zv = np.hstack([s[ids], tv[ids]]) + 0.6 * r.standard_normal((n, k + kv))
    face = zf @ Af + 0.05 * r.standard_normal((n, d_face))
    voice = zv @ Av + 0.05 * r.standard_normal((n, d_voice))
    return face, voice, ids


def _latent_items(r, s_face, s_voice, expr_std, dims, rows_per_id, n_sess, noise):
    """Item latents of both modalities: [shared part + expression noise ; modality-specific identity factor]
    + a session offset (``n_sess`` sessions per identity, std 0.4) + item noise ``noise(shape)``."""
    n_ids, k = s_face.shape
    kf, kv = dims
    ef, ev = expr_std * r.standard_normal((n_ids, k)), expr_std * r.standard_normal((n_ids, k))
    tf, tv = r.standard_normal((n_ids, kf)), r.standard_normal((n_ids, kv))
    ids = np.repeat(np.arange(n_ids), rows_per_id)
    sess = r.integers(0, n_sess, len(ids))
    cf = 0.4 * r.standard_normal((n_ids, n_sess, k + kf))
    cv = 0.4 * r.standard_normal((n_ids, n_sess, k + kv))
    zf = np.hstack([s_face[ids] + ef[ids], tf[ids]]) + cf[ids, sess] + noise((len(ids), k + kf))
    zv = np.hstack([s_voice[ids] + ev[ids], tv[ids]]) + cv[ids, sess] + noise((len(ids), k + kv))
    return zf, zv, ids


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.79788456 * (x + 0.044715 * x**3)))


def story_relu(n_ids: int, rows_per_id: int, seed: int, d_face: int = 2048, d_voice: int = 192, warp: float = 0.8, **_):
    """Non-linear warp between the modalities, ReLU face features (module docstring)."""
    k, kf, kv, n_sess = 12, 24, 16, 4
    w = np.random.default_rng(11)
    g_dir = w.standard_normal(k)
    g_dir /= np.linalg.norm(g_dir)
    R = w.standard_normal((k, k)) / np.sqrt(k)
    Af1, bf1 = w.standard_normal((512, k + kf)) / np.sqrt(k + kf), 0.3 * w.standard_normal(512)
    Af2, bf2 = w.standard_normal((d_face, 512)) / np.sqrt(512), 0.5 * w.standard_normal(d_face) - 0.5
    Av1, bv1 = w.standard_normal((256, k + kv)) / np.sqrt(k + kv), 0.3 * w.standard_normal(256)
    Av2 = w.standard_normal((d_voice, 256)) / np.sqrt(256)
    r = np.random.default_rng([seed, 2])
    gender = r.integers(0, 2, n_ids)
    s = (gender[:, None] - 0.5) * 3.0 * g_dir + r.standard_normal((n_ids, k))
    s_voice = s + warp * np.tanh(s @ R.T)  # what the voice expresses of the shared factor
    zf, zv, ids = _latent_items(
        r, s, s_voice, 0.5, (kf, kv), rows_per_id, n_sess, lambda n: 0.35 * r.standard_normal(n)
    )
    face = np.maximum(0.0, _gelu(zf @ Af1.T + bf1) @ Af2.T + bf2)
    hv = np.tanh(zv @ Av1.T + bv1) @ Av2.T
    voice = (hv - hv.mean(1, keepdims=True)) / hv.std(1, keepdims=True)
    return face, voice, ids


def story_clusters(n_ids: int, rows_per_id: int, seed: int, d_face: int = 2048, d_voice: int = 192, **_):
    """Population clusters with their own cross-modal rotation; Student-t noise (module docstring)."""
    k, kf, kv, n_clusters, n_sess = 10, 20, 20, 6, 5
    w = np.random.default_rng(23)
    centers = 2.5 * w.standard_normal((n_clusters, k)) / np.sqrt(2)
    maps = [0.6 * np.eye(k) + 0.4 * _orthogonal(w, k) for _ in range(n_clusters)]
    Af, bf = w.standard_normal((d_face, k + kf)) / np.sqrt(k + kf), 0.5 * w.standard_normal(d_face)
    Av1 = w.standard_normal((128, k + kv)) / np.sqrt(k + kv)
    Av2 = w.standard_normal((d_voice, 128)) / np.sqrt(128)
    r = np.random.default_rng([seed, 3])
    cl = r.integers(0, n_clusters, n_ids)
    s = centers[cl] + r.standard_normal((n_ids, k))
    s_voice = np.einsum("nij,nj->ni", np.stack([maps[c] for c in cl]), s - centers[cl]) + centers[cl]
    zf, zv, ids = _latent_items(r, s, s_voice, 0.6, (kf, kv), rows_per_id, n_sess, lambda n: 0.3 * r.standard_t(4, n))
    face = np.logaddexp(0.0, 1.5 * (zf @ Af.T) + bf)
    voice = np.tanh(zv @ Av1.T) @ Av2.T
    return face, voice, ids


def story_simceleb(n_ids: int, rows_per_id: int, seed: int, d_face: int = 2048, d_voice: int = 192, **_):
    """facevoice's simulator, another world (module docstring): face and voice items of one video paired."""
    from facevoice.simceleb.simulate import simulate

    videos = 6
    per = max(1, rows_per_id // videos)
    sim = simulate(
        "vox1",
        seed=seed,
        world_seed=7,
        d_face=d_face,
        d_voice=d_voice,
        map_hidden=min(192, d_voice),
        n_identities=n_ids,
        n_train=n_ids - 2,
        n_val=0,
        videos_per_language=(videos,),
        test_seen_videos=0,
        face_items_per_video=per,
        voice_items_per_video=per,
    )
    faces, voices = sim.bundle.rows("face"), sim.bundle.rows("voice")
    key = voices["item_id"].str.replace("_voice", "_face", regex=False)
    row_of = dict(zip(faces["item_id"], range(len(faces)), strict=True))
    ids = np.unique(voices["identity"].to_numpy(), return_inverse=True)[1]
    return sim.bundle.embeddings["face"][[row_of[k] for k in key]], sim.bundle.embeddings["voice"], ids


STORIES: dict[str, Story] = {
    "linear": story_linear,
    "relu": story_relu,
    "clusters": story_clusters,
    "simceleb": story_simceleb,
}


def write_csv(path: Path, X: np.ndarray, labels: np.ndarray) -> None:
    """Headerless rows: features (5 significant digits) then the label."""
    with open(path, "w") as fh:
        for row, lab in zip(X, labels, strict=True):
            fh.write(",".join(f"{v:.5g}" for v in row) + f",{lab}\n")


def make_world(
    story: str,
    out: str | Path,
    seed: int = 0,
    n_train: int = 230,
    n_test: int = 100,
    rows_per_id: int = 24,
    n_trials: int = 6000,
    **options,
) -> Path:
    """Write the training CSVs of ``n_train`` identities and a ``n_trials`` unseen-unheard list of ``n_test`` others."""
    if story not in STORIES:
        raise ValueError(f"unknown story {story!r}; valid: {sorted(STORIES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    face, voice, ids = STORIES[story](n_train + n_test, rows_per_id, seed, **options)
    rng = np.random.default_rng([seed, 99])
    train_ids = set(rng.permutation(n_train + n_test)[:n_train].tolist())
    train = np.array([i in train_ids for i in ids])
    labels = np.array([f"id{i:04d}" for i in ids])
    write_csv(out / "face_train.csv", face[train], labels[train])
    write_csv(out / "voice_train.csv", voice[train], labels[train])
    test_rows = np.flatnonzero(~train)
    by_id = {i: test_rows[ids[test_rows] == i] for i in np.unique(ids[test_rows])}
    people = list(by_id)
    face_rows, voice_rows = [], []
    for t in range(n_trials):  # even trials: same person; odd: two different people
        a = people[rng.integers(len(people))]
        b = a
        while t % 2 and b == a:
            b = people[rng.integers(len(people))]
        voice_rows.append(rng.choice(by_id[a]))
        face_rows.append(rng.choice(by_id[b]))
    write_csv(out / "face_test.csv", face[face_rows], labels[face_rows])
    write_csv(out / "voice_test.csv", voice[voice_rows], labels[voice_rows])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("story", choices=sorted(STORIES))
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows-per-id", type=int, default=24)
    ap.add_argument("--n-train", type=int, default=230)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--trials", type=int, default=6000)
    ap.add_argument("--warp", type=float, default=0.8, help="relu story: strength of the non-linear warp")
    a = ap.parse_args()
    out = make_world(a.story, a.out, a.seed, a.n_train, a.n_test, a.rows_per_id, a.trials, warp=a.warp)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
