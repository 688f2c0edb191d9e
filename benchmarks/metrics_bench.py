"""Timing of facevoice.eval.metrics on evaluation-sized inputs (plain script, not a test).

Usage: python benchmarks/metrics_bench.py [--repeats 5]
Prints the median wall time of each case over the repeats, in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from facevoice.eval import metrics as M


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    n_trials = 1_000_000
    labels = rng.integers(0, 2, n_trials)
    scores = np.tanh(0.5 * rng.standard_normal(n_trials) + 0.4 * labels)

    galleries = rng.standard_normal((100_000, 10)).astype(np.float32)
    galleries[:, 0] += 0.8

    n_probe = n_cand = 5_000
    relevant = np.zeros((n_probe, n_cand), dtype=bool)
    relevant[np.arange(n_probe), rng.integers(0, n_cand, n_probe)] = True
    relevant |= rng.random((n_probe, n_cand)) < 0.002
    retrieval = rng.standard_normal((n_probe, n_cand)).astype(np.float32) + 2.0 * relevant

    cases = [
        ("eer, 1M trials", lambda: M.eer(scores, labels).eer),
        ("auc, 1M trials", lambda: M.auc(scores, labels)),
        ("verification_report, 1M trials", lambda: M.verification_report(scores, labels)["eer"]),
        ("reference_eer (fop grid), 1M trials", lambda: M.reference_eer(scores, labels).eer),
        ("one_to_n_accuracy, 100k x 10", lambda: M.one_to_n_accuracy(galleries)),
        ("mean_average_precision, 5k x 5k", lambda: M.mean_average_precision(retrieval, relevant)),
        ("retrieval_report (mAP+R@1/5/10), 5k x 5k", lambda: M.retrieval_report(retrieval, relevant)["map"]),
    ]
    print(f"{'case':<44} {'median s':>9}  value")
    for name, fn in cases:
        seconds, value = _median_time(fn, args.repeats)
        print(f"{name:<44} {seconds:>9.3f}  {value:.4f}")


if __name__ == "__main__":
    main()
