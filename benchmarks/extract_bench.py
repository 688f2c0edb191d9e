"""Extraction benchmark: items per second per encoder, and peak memory as the manifest grows.

    .venv/bin/python benchmarks/extract_bench.py                  # both parts, prints a table + JSON
    .venv/bin/python benchmarks/extract_bench.py --part speed --n 40 --encoders resemblyzer dlib-face
    .venv/bin/python benchmarks/extract_bench.py --part memory --sizes 100 400 1600

Speed: each encoder runs ``facevoice.extract.extract`` on ``--n`` real files from ../shared/data
(FSDD voices, ORL faces); "base" transformers encoders use the default (base-size) configs with
random weights, which cost the same compute as the released checkpoints (no download needed).
Memory: a fresh process extracts manifests of growing size (real FSDD files listed repeatedly under
distinct item ids) with a tiny model; its peak RSS must stay flat, since only one shard of
embeddings and one batch of media are held at a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

SPEED_ENCODERS = {
    "resemblyzer": ("voice", "resemblyzer", {}),
    "dlib-face": ("face", "dlib-face", {"fallback": "whole"}),
    "wavlm-tiny": ("voice", "wavlm", {"source": "tiny"}),
    "siglip-tiny": ("face", "siglip", {"source": "tiny", "fallback": "whole"}),
    "wavlm-base": ("voice", "wavlm", {"source": {"family": "wavlm"}}),
    "hubert-base": ("voice", "hubert", {"source": {"family": "hubert"}}),
    "siglip-base": (
        "face",
        "siglip",
        {"source": {"family": "siglip", "image_size": 224, "patch_size": 16}, "fallback": "whole"},
    ),
    "dinov2-base": (
        "face",
        "dinov2",
        {"source": {"family": "dinov2", "image_size": 224, "patch_size": 14}, "fallback": "whole"},
    ),
}


def _manifest(modality: str, n: int, path: Path) -> Path:
    """``n`` real files of one modality (repeated under new ids when ``n`` exceeds the data)."""
    from facevoice.data.manifest import write_manifest

    if modality == "voice":
        files = sorted((DATA / "fsdd_voices").glob("*.wav"))
        ident = [f.name.split("_")[1] for f in files]
    else:
        files = sorted((DATA / "orl_faces").glob("s*/*.pgm"))
        ident = [f.parent.name for f in files]
    if not files:
        sys.exit(f"no real data under {DATA}")
    rows = [
        {
            "item_id": f"{modality}:{i:07d}",
            "identity": ident[i % len(files)],
            "modality": modality,
            "path": str(files[i % len(files)]),
            "split": "test",
        }
        for i in range(n)
    ]
    return write_manifest(rows, path)


def _build(name: str):
    from facevoice.encoders import create_encoder
    from facevoice.encoders.hf.common import tiny_config

    modality, reg, kw = SPEED_ENCODERS[name]
    kw = dict(kw)
    if kw.get("source") == "tiny":
        kw["source"] = tiny_config(reg)
    return modality, create_encoder(reg, **kw)


def speed(names: list[str], n: int, batch_size: int, workers: int) -> list[dict]:
    from facevoice.extract import extract

    rows = []
    for name in names:
        t0 = time.perf_counter()
        modality, enc = _build(name)
        build_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            manifest = _manifest(modality, n, Path(tmp) / "m.parquet")
            warm = enc.load(_first_path(manifest))
            enc.encode(warm.parts)  # one-time costs (JIT, lazy imports) out of the timing
            res = extract(
                manifest,
                enc,
                Path(tmp) / "store",
                batch_size=batch_size,
                shard_size=64,
                num_workers=workers,
                progress=False,
            )
        rows.append(
            {
                "encoder": name,
                "items": res.embedded + res.skipped,
                "items_per_s": round(res.items_per_second, 2),
                "load_s": round(res.load_seconds, 2),
                "encode_s": round(res.encode_seconds, 2),
                "build_s": round(build_s, 1),
                "dim": enc.dim,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _first_path(manifest: Path) -> str:
    import pandas as pd

    return str(pd.read_parquet(manifest)["path"].iloc[0])


def _child_memory(n: int, tmp: str) -> None:
    """Runs in a fresh process: extract ``n`` items, print peak RSS (MiB)."""
    from facevoice.encoders import create_encoder
    from facevoice.encoders.hf.common import tiny_config
    from facevoice.extract import extract

    manifest = _manifest("voice", n, Path(tmp) / f"m{n}.parquet")
    enc = create_encoder("wavlm", source=tiny_config("wavlm"))
    enc.encode(enc.load(_first_path(manifest)).parts)
    base = _status_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    t0 = time.perf_counter()
    res = extract(manifest, enc, Path(tmp) / f"s{n}", batch_size=16, shard_size=64, num_workers=2, progress=False)
    peak = _status_mib("VmHWM")
    out = {"items": n, "embedded": res.embedded, "rss_before_mib": round(base, 1), "peak_rss_mib": round(peak, 1)}
    out["peak_minus_before_mib"] = round(peak - base, 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print("RESULT " + json.dumps(out), flush=True)


def _status_mib(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process from /proc (MiB); the peak resets at exec, unlike ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def memory(sizes: list[int], threads: int | None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            cmd = [sys.executable, __file__, "--child-memory", str(n), "--tmp", tmp]
            cmd += ["--threads", str(threads)] if threads else []
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            rows.append(json.loads(line[len("RESULT ") :]))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["speed", "memory", "all"], default="all")
    ap.add_argument("--encoders", nargs="+", default=list(SPEED_ENCODERS), choices=list(SPEED_ENCODERS))
    ap.add_argument("--n", type=int, default=48, help="items per encoder for the speed part")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--child-memory", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.child_memory is not None:
        _child_memory(args.child_memory, args.tmp)
        return
    results = {"machine": _machine()}
    if args.part in ("speed", "all"):
        results["speed"] = speed(args.encoders, args.n, args.batch_size, args.workers)
    if args.part in ("memory", "all"):
        results["memory"] = memory(args.sizes, args.threads)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def _machine() -> dict:
    import os
    import platform

    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "cuda": torch.cuda.is_available(),
    }


if __name__ == "__main__":
    main()
