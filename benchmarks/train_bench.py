"""Training throughput: facevoice's trainer against a textbook PyTorch loop, same run, same features, same model.

Usage: python benchmarks/train_bench.py [--methods fop,sbnet,paeff,ssos,xplda] [--batch 128] [--threads 2]
       [--steps 30] [--rounds 3] [--profile] [--json out.json]

Data: VoxCeleb1-sized cached embeddings (901 training identities x 6 items per modality, 4096-d faces,
512-d voices, Gaussian). Per method, in one process and interleaved round by round (a shared CPU's
load then hits every loop alike; the median round is reported), four loops train the same model
class with the same optimiser settings at ``--batch`` rows per step on ``--threads`` threads:

``textbook``
    the loop the reference scripts write: a ``DataLoader`` over a ``TensorDataset`` of the features as
    loaded (float64), per batch ``.float().to(device)``, torch's per-tensor optimiser, ``loss.item()``
    and every logged term ``.item()``'d into Python running means at every step. Paired methods get a
    dataset of (voice item, a face item of its identity) rows; SBNet's mixed batches come from a face
    and a voice loader of ``batch / 2`` rows each.
``facevoice``
    :class:`facevoice.train.trainer.Trainer` with its defaults (``optimizer_impl: flat``, the run's
    curves bit-identical to torch's step): samples/s is the trainer's own figure for a warm epoch.
``fused``
    the same trainer with ``optimizer_impl: fused`` (torch's fused CPU kernels; other rounding).
``bound``
    forward + backward + flat optimiser step over batches gathered beforehand, and nothing else: what
    any loop computing these exact numbers can reach. ``bound / textbook`` caps the achievable ratio.

``--profile`` adds, per method, where a step's time goes (ms/step: data, forward, backward, optimiser,
bookkeeping) in the textbook loop, in the trainer's loop as it was before the flat step and the
deferred terms (torch's step, ``torch.isfinite(loss)`` and one running sum per term at every step),
and as it is now.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

METHODS = ("fop", "sbnet", "paeff", "ssos", "xplda")
PHASES = ("data", "forward", "backward", "optimizer", "bookkeeping")


def gaussian_bundle(n_ids: int = 901, per_id: int = 6, d_face: int = 4096, d_voice: int = 512, seed: int = 0):
    """A train-only bundle of random embeddings with the sizes of the VoxCeleb1 feature release."""
    from facevoice.data.bundle import EmbeddingBundle
    from facevoice.data.manifest import make_manifest

    rng = np.random.default_rng(seed)
    rows = [
        {"item_id": f"{m[0]}{i}_{j}", "identity": f"id{i}", "modality": m, "split": "train"}
        for m in ("face", "voice")
        for i in range(n_ids)
        for j in range(per_id)
    ]
    n = n_ids * per_id
    emb = {
        "face": rng.standard_normal((n, d_face), dtype=np.float32),
        "voice": rng.standard_normal((n, d_voice), dtype=np.float32),
    }
    return EmbeddingBundle(make_manifest(pd.DataFrame(rows)), emb)


def prepared_method(name: str, bundle, data):
    """The method with its default hyper-parameters, seeded, its data-dependent set-up done (xplda's PCA)."""
    import torch

    from facevoice.methods import create_method
    from facevoice.pipelines.run import _overrides, split_arrays, val_eer

    torch.manual_seed(0)
    method = create_method(name, data.d_face, data.d_voice, data.n_classes, {})
    if _overrides(method, "prepare"):
        method.prepare(split_arrays(bundle, ("train",)), None, val_eer)
    return method


# -- the textbook loop ---------------------------------------------------------------------------------
def textbook_loaders(method, data, batch: int, seed: int = 0):
    """DataLoaders as the reference scripts build them: float64 features, a TensorDataset, shuffle."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(seed)
    face64 = data.face.cpu().numpy().astype(np.float64)  # the features as a script loads them (CSV / npy)
    voice64 = data.voice.cpu().numpy().astype(np.float64)
    gen = torch.Generator().manual_seed(seed)
    if method.sampling == "modality":  # SBNet's mixed batches: half faces, half voices
        f = TensorDataset(torch.from_numpy(face64), torch.from_numpy(data.face_labels))
        v = TensorDataset(torch.from_numpy(voice64), torch.from_numpy(data.voice_labels))
        half = batch // 2
        return "mixed", (
            DataLoader(f, batch_size=half, shuffle=True, drop_last=True, generator=gen),
            DataLoader(v, batch_size=half, shuffle=True, drop_last=True, generator=gen),
        )
    faces = data.random_member("face", data.voice_labels, rng)  # each voice item with a face of its identity
    ds = TensorDataset(torch.from_numpy(face64[faces]), torch.from_numpy(voice64), torch.from_numpy(data.voice_labels))
    return "paired", (DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, generator=gen),)


def textbook_batches(kind: str, loaders, device):
    """Endless batches of the textbook loaders, converted and moved per batch."""
    import torch

    from facevoice.methods.base import Batch

    while True:
        if kind == "mixed":
            for (f, yf), (v, yv) in zip(*loaders, strict=False):
                labels = torch.cat([yf, yv]).to(device)
                yield Batch(labels=labels, face=f.float().to(device), voice=v.float().to(device), identity_index=labels)
        else:
            for f, v, y in loaders[0]:
                y = y.to(device)
                yield Batch(labels=y, face=f.float().to(device), voice=v.float().to(device), identity_index=y)


def run_textbook(method, data, batch: int, steps: int, device: str = "cpu", timer=None) -> float:
    """Samples/s of ``steps`` textbook steps (after 3 warm-up steps)."""
    kind, loaders = textbook_loaders(method, data, batch)
    method.train()
    optimizer, scheduler = method.configure_optimizer(steps + 3)
    method.on_epoch_start(0, 1)
    meters: dict[str, float] = {}
    source = textbook_batches(kind, loaders, device)
    n_rows = 0
    t = Ticker(timer)
    for step in range(steps + 3):
        if step == 3:
            t.start()
            n_rows = 0
        b = next(source)
        weights = method.sample_weights(b.labels)
        if weights is not None:
            b.weights = weights
        t.tick("data")
        out = method.training_step(b, step, 0)
        t.tick("forward")
        optimise(optimizer, scheduler, out["loss"], t)
        method.on_step_end(b, out, step)
        for k, v in out.items():  # the running means every reference script prints
            if hasattr(v, "numel") and v.numel() == 1:
                meters[k] = meters.get(k, 0.0) + v.item()
        n_rows += len(b.labels)
        t.tick("bookkeeping")
    return n_rows / t.elapsed()


# -- facevoice's trainer ---------------------------------------------------------------------------------
def run_trainer(method, data, batch: int, steps: int, impl: str) -> float:
    """Samples/s of the trainer's second (warm) epoch of ``steps`` steps."""
    from facevoice.train.config import TrainConfig
    from facevoice.train.samplers import MethodBatches
    from facevoice.train.trainer import Trainer

    cfg = TrainConfig(
        epochs=2, batch_size=batch, steps_per_epoch=steps, selection="last", progress=False, optimizer_impl=impl
    )
    with tempfile.TemporaryDirectory() as tmp:
        batches = MethodBatches(method, data, batch, steps)
        Trainer(method, batches, None, Path(tmp) / "run", cfg).fit()
        rows = [json.loads(x) for x in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    return float(rows[-1]["samples_per_s"])


def run_bound(method, data, batch: int, steps: int) -> float:
    """Samples/s of forward + backward + flat step alone, over batches gathered beforehand."""
    from facevoice.train.optim import wrap_optimizer
    from facevoice.train.samplers import MethodBatches

    method.train()
    optimizer, _ = method.configure_optimizer(steps + 3)
    optimizer = wrap_optimizer(optimizer, "flat")
    source = MethodBatches(method, data, batch, steps + 3)
    pre = list(source.epoch(0, 1, np.random.default_rng(0)))
    t = Ticker(None)
    for step, b in enumerate(pre):
        if step == 3:
            t.start()
        optimise(optimizer, None, method.training_step(b, step, 0)["loss"], t)
    return sum(len(b.labels) for b in pre[3:]) / t.elapsed()


# -- per-step profile ----------------------------------------------------------------------------------
class Ticker:
    """Wall-clock per phase (CPU: every kernel has finished when the Python call returns)."""

    def __init__(self, sums: dict[str, float] | None) -> None:
        self.sums, self.t0 = sums, time.perf_counter()
        self.t = self.t0

    def start(self) -> None:
        self.t0 = self.t = time.perf_counter()
        if self.sums is not None:
            self.sums.clear()

    def tick(self, phase: str) -> None:
        if self.sums is not None:
            now = time.perf_counter()
            self.sums[phase] = self.sums.get(phase, 0.0) + now - self.t
            self.t = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def optimise(optimizer, scheduler, loss, t: Ticker) -> None:
    """What every loop here does after the forward pass: zero the gradients, backward, step (+ schedule)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    t.tick("backward")
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    t.tick("optimizer")


def profile_trainer_loop(method, data, batch: int, steps: int, before: bool) -> dict[str, float]:
    """ms/step per phase of the trainer's step sequence: ``before`` (torch step, a per-step isfinite and
    per-term sums, as the trainer did before) or now (flat step, :class:`EpochTerms`)."""
    import torch

    from facevoice.train.optim import wrap_optimizer
    from facevoice.train.samplers import MethodBatches
    from facevoice.train.terms import EpochTerms

    method.train()
    optimizer, scheduler = method.configure_optimizer(steps + 3)
    optimizer = wrap_optimizer(optimizer, "torch" if before else "flat")
    source = MethodBatches(method, data, batch, steps + 3)
    sums: dict[str, float] = {}
    t = Ticker(sums)
    it = iter(source.epoch(0, 1, np.random.default_rng(0)))
    terms, old_sums = EpochTerms(0), {}
    for step in range(steps + 3):
        if step == 3:
            t.start()
        b = next(it)
        t.tick("data")
        out = method.training_step(b, step, 0)
        t.tick("forward")
        if before and not torch.isfinite(out["loss"]):
            raise FloatingPointError(step)
        t.tick("bookkeeping")
        optimise(optimizer, scheduler, out["loss"], t)
        method.on_step_end(b, out, step)
        if before:
            for k, v in out.items():
                if torch.is_tensor(v) and v.numel() == 1:
                    old_sums[k] = old_sums.get(k, 0.0) + v.detach().float()
        else:
            terms.add(out, step)
        t.tick("bookkeeping")
    if not before:
        terms.means()
    t.tick("bookkeeping")
    return {p: 1000 * sums.get(p, 0.0) / steps for p in PHASES}


def profile_textbook(method, data, batch: int, steps: int) -> dict[str, float]:
    sums: dict[str, float] = {}
    run_textbook(method, data, batch, steps, timer=sums)
    return {p: 1000 * sums.get(p, 0.0) / steps for p in PHASES}


# -- main --------------------------------------------------------------------------------------------
def bench_method(name, bundle, data, args) -> tuple[dict, list[dict]]:
    base = prepared_method(name, bundle, data)
    runs: dict[str, list[float]] = {"textbook": [], "facevoice": [], "fused": [], "bound": []}
    for _ in range(args.rounds):  # interleaved: load on a shared machine hits every loop alike
        runs["textbook"].append(run_textbook(copy.deepcopy(base), data, args.batch, args.steps))
        runs["facevoice"].append(run_trainer(copy.deepcopy(base), data, args.batch, args.steps, "flat"))
        runs["fused"].append(run_trainer(copy.deepcopy(base), data, args.batch, args.steps, "fused"))
        runs["bound"].append(run_bound(copy.deepcopy(base), data, args.batch, args.steps))
    sps = {k: statistics.median(v) for k, v in runs.items()}
    row = {"method": name, **{f"{k}_sps": v for k, v in sps.items()}}
    row.update({f"{k}_x": sps[k] / sps["textbook"] for k in ("facevoice", "fused", "bound")})
    profile = []
    if args.profile:
        loops = {
            "textbook": lambda m: profile_textbook(m, data, args.batch, args.steps),
            "trainer before": lambda m: profile_trainer_loop(m, data, args.batch, args.steps, before=True),
            "trainer now": lambda m: profile_trainer_loop(m, data, args.batch, args.steps, before=False),
        }
        for loop, fn in loops.items():
            ms = fn(copy.deepcopy(base))
            profile.append({"method": name, "loop": loop, **ms, "total": sum(ms.values())})
    return row, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per loop and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--profile", action="store_true", help="also print where a step's time goes")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    import torch

    from facevoice.core.threads import limit_threads
    from facevoice.train.data import TrainData

    bundle = gaussian_bundle()
    data = TrainData.from_bundle(bundle, device="cpu")
    rows, profile = [], []
    with limit_threads(args.threads):
        for name in args.methods.split(","):
            row, prof = bench_method(name, bundle, data, args)
            rows.append(row)
            profile += prof
            print(f"{name}: facevoice {row['facevoice_x']:.2f}x textbook", flush=True)
    setting = f"batch {args.batch}, {args.threads} threads, torch {torch.__version__}, median of {args.rounds} rounds"
    print(f"\nsamples/s ({setting})")
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    if profile:
        print("\nms per step by phase")
        print(pd.DataFrame(profile).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows, "profile": profile}, indent=2)
        )


if __name__ == "__main__":
    main()
