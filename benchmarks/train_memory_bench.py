"""Peak memory of training against the number of items (plain script, not a test).

Usage: python benchmarks/train_memory_bench.py [--methods fop,sbnet,paeff,ssos,xplda] [--per-id 6,24] [--steps 40]

For each method and each number of items per identity (901 identities, 4096-d faces, 512-d voices,
as in ``train_bench.py``; the identities stay fixed so the model, whose classifiers grow with the
identities, is the same size), a fresh process builds the data and the model, then trains one epoch
of ``--steps`` steps at batch 128 through facevoice's trainer and reads the kernel's peak resident
size (reset just before training). Printed per run: the data's size, the resident size before
training, and the peak *extra* memory while training (what the trainer, its batches, gradients and optimiser state add).
That extra should not grow with the number of items: the trainer gathers each batch by index from
tensors built once and keeps at most 64 steps of scalar terms, whatever the data size.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd


def status_bytes(key: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the peak since the last reset) of this process, in bytes."""
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith(key + ":"))
    return int(line.split()[1]) * 1024


def reset_peak() -> None:
    """Reset ``VmHWM`` to the current resident size (Linux: ``5`` to ``/proc/self/clear_refs``), so the
    peak read afterwards is the peak of what follows, exact, without sampling."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _train_bench_module():
    # the data and the method set-up are train_bench.py's, so both scripts measure the same thing
    spec = importlib.util.spec_from_file_location("train_bench", Path(__file__).with_name("train_bench.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child(method_name: str, per_id: int, steps: int, batch: int) -> dict:
    """One measurement, in this (fresh) process."""
    import torch

    from facevoice.train.config import TrainConfig
    from facevoice.train.data import TrainData
    from facevoice.train.samplers import MethodBatches
    from facevoice.train.trainer import Trainer

    torch.set_num_threads(2)
    tb = _train_bench_module()
    bundle = tb.gaussian_bundle(per_id=per_id)
    data_bytes = sum(int(x.nbytes) for x in bundle.embeddings.values())
    data = TrainData.from_bundle(bundle, device="cpu")
    method = tb.prepared_method(method_name, bundle, data)
    cfg = TrainConfig(epochs=1, batch_size=batch, steps_per_epoch=steps, selection="last", progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        batches = MethodBatches(method, data, batch, steps)
        gc.collect()
        reset_peak()
        before = status_bytes("VmRSS")
        Trainer(method, batches, None, Path(tmp) / "run", cfg).fit()
        peak = status_bytes("VmHWM")
    mb = 1 / 2**20
    return {
        "method": method_name,
        "items_per_modality": len(bundle.embeddings["face"]),
        "data_mb": data_bytes * mb,
        "rss_before_mb": before * mb,
        "train_extra_mb": (peak - before) * mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="fop,sbnet,paeff,ssos,xplda")
    parser.add_argument("--per-id", default="6,24", help="items per identity and modality, comma list")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PER_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.steps, args.batch)))
        return
    rows = []
    for name in args.methods.split(","):
        for per_id in (int(x) for x in args.per_id.split(",")):
            cmd = [sys.executable, __file__, "--child", name, str(per_id), "--steps", str(args.steps)]
            cmd += ["--batch", str(args.batch)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    first = table.groupby("method")["train_extra_mb"].transform("first")
    table["extra_vs_smallest"] = table["train_extra_mb"] / first
    print(f"\npeak extra memory while training (batch {args.batch}, {args.steps} steps, 901 identities)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
