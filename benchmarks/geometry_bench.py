"""Time every geometry metric at the study's scale: 1,000 identities x 20 samples per modality.

Synthetic embeddings: a 24-d identity latent mapped linearly to a 512-d "face" space and, through
a tanh, to a 128-d "voice" space, plus per-sample noise (so identities cluster and the modalities
share structure, as real encoder pairs do). Wall and CPU seconds are both printed: on a shared
machine the CPU time is the steadier figure. Run::

    .venv/bin/python benchmarks/geometry_bench.py [--ids 1000 --per-id 20 --out bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def make_data(n_ids: int, per_id: int, d_face: int, d_voice: int, seed: int):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n_ids, 24))
    rows = np.repeat(np.arange(n_ids), per_id)
    labels = np.array([f"id{i:05d}" for i in rows])
    F = (Z @ rng.standard_normal((24, d_face)))[rows] + 2.0 * rng.standard_normal((rows.size, d_face))
    V = np.tanh(0.3 * Z @ rng.standard_normal((24, d_voice)))[rows] + 0.3 * rng.standard_normal((rows.size, d_voice))
    return F.astype(np.float32), V.astype(np.float32), labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=1000)
    ap.add_argument("--per-id", type=int, default=20)
    ap.add_argument("--d-face", type=int, default=512)
    ap.add_argument("--d-voice", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the timings and values as JSON here")
    args = ap.parse_args()

    import ot  # noqa: F401  (imported up front so its ~4 s import is not billed to the GW timing)

    from facevoice.analysis.crossmodal.metrics import (
        aligned_centroids,
        gromov_wasserstein,
        id_mismatch,
        linear_cka,
        rbf_cka,
        spectral_gap_divergence,
    )
    from facevoice.analysis.crossmodal.pair import cca_baseline_eer
    from facevoice.analysis.geometry.curvature import local_curvature
    from facevoice.analysis.geometry.encoder import compactness_gap, levina_bickel, twonn
    from facevoice.data.splits import permutation_split as split_identities

    F, V, labels = make_data(args.ids, args.per_id, args.d_face, args.d_voice, args.seed)
    rows = []

    def timed(name: str, fn, value=lambda r: r):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"metric": name, "seconds": dt, "cpu_seconds": cpu, "value": float(value(res))})
        print(f"{name:<34s} {dt:8.2f} s wall {cpu:8.2f} s cpu   value {rows[-1]['value']:.4g}", flush=True)
        return res

    for tag, X in (("face", F), ("voice", V)):
        n, d = X.shape
        timed(f"{tag} ID Levina-Bickel ({n}x{d})", lambda X=X: levina_bickel(X, k=20), lambda r: r.estimate)
        timed(f"{tag} ID TwoNN", lambda X=X: twonn(X), lambda r: r.estimate)
        timed(f"{tag} curvature (1000 pts, k=50)", lambda X=X: local_curvature(X, 1000, 50),
              lambda r: np.median(r.mean_curvature))  # fmt: skip
        timed(f"{tag} compactness gap", lambda X=X: compactness_gap(X, labels), lambda r: r.gap)
    ids, Cf, Cv = timed(
        "identity centroids (both)", lambda: aligned_centroids(F, labels, V, labels), lambda r: len(r[0])
    )
    timed("linear CKA", lambda: linear_cka(Cf, Cv))
    timed("RBF CKA", lambda: rbf_cka(Cf, Cv))
    timed("Gromov-Wasserstein (500 pts)", lambda: gromov_wasserstein(Cf, Cv, max_points=500))
    timed("spectral-gap divergence", lambda: spectral_gap_divergence(Cf, Cv))
    timed("ID mismatch (centroids)", lambda: id_mismatch(Cf, Cv), lambda r: r[0])
    train, test = split_identities(ids, 0.2, args.seed)
    timed("CCA-baseline EER", lambda: cca_baseline_eer(F, labels, V, labels, train, test), lambda r: r["eer"])
    total = sum(r["seconds"] for r in rows)
    print(f"{'total':<34s} {total:8.2f} s wall {sum(r['cpu_seconds'] for r in rows):8.2f} s cpu")
    if args.out:
        meta = {"ids": args.ids, "per_id": args.per_id, "d_face": args.d_face, "d_voice": args.d_voice,
                "machine": platform.platform(), "python": platform.python_version()}  # fmt: skip
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "timings": rows, "total_seconds": total}, fh, indent=2)


if __name__ == "__main__":
    main()
