"""Choose the CCA baseline's small-sample rule on validation identities only (prints a table).

The ``n_components="auto"`` / ``reg="auto"`` rule of :class:`facevoice.backends.cca.CCABaseline` is

    n_components = clip(n // P, 2, d),   reg = C * (1 - n / (4 d)) while n < 4 d, else 1e-3

for n training identities and d PCA dimensions per side. This script refits the baseline for a grid of
(P, C) on simulated populations of both presets' generative settings with n = 25 ... 400 training
identities, and scores every voice x face pair (4 items each) of 150 *validation* identities (test identities are not
simulated at all: the split holds 2 placeholder test identities that nothing reads). It prints the
validation EER per setting and the grid's mean, and the (P, C) that minimises it among the rules that
keep the published baseline at VoxCeleb1 scale (50 components for n = 901, i.e. P <= 18).

    python benchmarks/cca_rule_study.py [--seeds 0,1,2] [--sizes 25,50,100,200,400]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from facevoice.backends.cca import CCABaseline
from facevoice.core.threads import limit_threads
from facevoice.eval.metrics import eer
from facevoice.simceleb.simulate import simulate

PER_COMPONENT = (4, 8, 12, 16, 24, 32)
RIDGE_SCALE = (0.0, 2.5, 5.0, 10.0, 20.0)
N_VAL = 150
ITEMS_PER_ID = 4


def rule(n: int, d: int, per_component: int, scale: float) -> tuple[int, float]:
    k = int(min(d, max(2, n // per_component)))
    reg = 1e-3 if n >= 4 * d else float(max(1e-3, scale * (1.0 - n / (4.0 * d))))
    return k, reg


def validation_eer(sim, k: int, reg: float) -> float:
    b = sim.bundle
    (dff, Xf), (dfv, Xv) = b.select("face", "train"), b.select("voice", "train")
    if sim.config.name == "mavceleb":  # MAV-Celeb protocol: fit on the heard language only
        fk, vk = (dff["language"] == "english").to_numpy(), (dfv["language"] == "english").to_numpy()
        dff, Xf, dfv, Xv = dff[fk], Xf[fk], dfv[vk], Xv[vk]
    cca = CCABaseline(n_components=k, reg=reg).fit(Xf, dff["identity"], Xv, dfv["identity"])
    (vf, Vf), (vv, Vv) = b.select("face", "val"), b.select("voice", "val")
    # at most ITEMS_PER_ID items per identity and modality (the first ones): 600 x 600 pairs
    fk = (vf.groupby("identity").cumcount() < ITEMS_PER_ID).to_numpy()
    vk = (vv.groupby("identity").cumcount() < ITEMS_PER_ID).to_numpy()
    vf, Vf, vv, Vv = vf[fk], Vf[fk], vv[vk], Vv[vk]
    S = cca.transform(Vv, "voice") @ cca.transform(Vf, "face").T
    same = vv["identity"].to_numpy()[:, None] == vf["identity"].to_numpy()[None, :]
    return float(eer(S.ravel(), same.ravel().astype(np.int8)).eer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sizes", default="25,50,100,200,400")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    grid = list(itertools.product(PER_COMPONENT, RIDGE_SCALE))
    table: dict[tuple[int, float], list[float]] = {g: [] for g in grid}
    print(f"{'preset':9} {'n':>4} {'seed':>4}  best (P, C) -> val EER %   [current rule (16, 10)]")
    with limit_threads(1):
        for preset, n, seed in itertools.product(("vox1", "mavceleb"), sizes, seeds):
            sim = simulate(preset, seed=seed, n_identities=n + N_VAL + 2, n_train=n, n_val=N_VAL, d_face=512)
            d = 50
            res = {g: validation_eer(sim, *rule(n, d, *g)) for g in grid}
            for g, v in res.items():
                table[g].append(v)
            best = min(res, key=res.get)
            print(f"{preset:9} {n:4d} {seed:4d}  {best} -> {100 * res[best]:.1f}   [{100 * res[(16, 10.0)]:.1f}]")
    print("\nmean validation EER % over every preset x size x seed:")
    print("P \\ C  " + "".join(f"{c:>8}" for c in RIDGE_SCALE))
    for p in PER_COMPONENT:
        print(f"{p:5d}  " + "".join(f"{100 * np.mean(table[(p, c)]):8.2f}" for c in RIDGE_SCALE))
    allowed = [g for g in grid if 901 // g[0] >= 50]
    choice = min(allowed, key=lambda g: np.mean(table[g]))
    print(
        f"\nchosen (P <= 18, keeps 50 components at n = 901): P = {choice[0]}, C = {choice[1]}: "
        f"{100 * np.mean(table[choice]):.2f} %  (unconstrained best: {min(grid, key=lambda g: np.mean(table[g]))})"
    )


if __name__ == "__main__":
    main()
