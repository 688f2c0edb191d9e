"""Training and extraction throughput of the LoRA dual encoder (samples/s) on one device.

Encoders are built from their configs with random weights (no download), so the figures are the
real architectures' cost, not their accuracy. Examples::

    # CPU smoke run on the tiny test encoders
    python benchmarks/finetune_bench.py --device cpu --voice tiny-wavlm --face tiny-siglip --batch 8 --seconds 1

    # the paper's encoders on a GPU, face-only LoRA r=8 on all linear layers, bf16 autocast
    python benchmarks/finetune_bench.py --device cuda --voice wavlm-large --face siglip-b16 \
        --setting face --rank 8 --targets all --batch 32 --seconds 3 --dtype bf16

Prints one JSON line: train samples/s (pairs/s, forward + backward + AdamW step with InfoNCE),
extraction items/s per modality (no_grad forward + pooling + head), peak GPU memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return time.perf_counter() - t0


def main() -> None:
    from facevoice.encoders import create_encoder
    from facevoice.finetune.budget import PRESETS, parameter_report
    from facevoice.finetune.model import DualEncoder, EncoderBranch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--voice", default="tiny-wavlm", choices=[k for k, v in PRESETS.items() if v["family"] == "wavlm"])
    ap.add_argument("--face", default="tiny-siglip", choices=[k for k, v in PRESETS.items() if v["family"] == "siglip"])
    ap.add_argument("--setting", default="face", choices=["none", "face", "voice", "both"])
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--targets", default="all")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0, help="voice crop length")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16 = autocast (CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)

    t0 = time.perf_counter()
    voice = create_encoder("wavlm", source=dict(PRESETS[args.voice]))
    face = create_encoder("siglip", source=dict(PRESETS[args.face]), pooling="pooler", detect_faces=False)
    lora = {"rank": args.rank, "alpha": 2 * args.rank, "targets": args.targets}
    model = DualEncoder(
        EncoderBranch(voice, lora if args.setting in ("voice", "both") else None, copy_model=False),
        EncoderBranch(face, lora if args.setting in ("face", "both") else None, copy_model=False),
    ).to(device)
    build_s = time.perf_counter() - t0
    params = parameter_report(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    b, n = args.batch, int(args.seconds * 16000)
    size = int(face.backbone.config.image_size)
    voice_in = {
        "input_values": torch.randn(b, n, device=device),
        "attention_mask": torch.ones(b, n, dtype=torch.long, device=device),
    }
    face_in = {"pixel_values": torch.randn(b, 3, size, size, device=device)}
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.dtype == "bf16" else contextlib.nullcontext()

    def train_step() -> None:
        model.train()
        with autocast:
            v, f = model(voice_in, face_in)
        loss = model.loss(v.float(), f.float())["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def extract(modality: str, inputs: dict) -> None:
        model.eval()
        with torch.no_grad(), autocast:
            model.embed(modality, inputs)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train_s = _timed(train_step, args.steps, args.warmup, device)
    voice_s = _timed(lambda: extract("voice", voice_in), args.steps, args.warmup, device)
    face_s = _timed(lambda: extract("face", face_in), args.steps, args.warmup, device)
    out = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()}",
        "voice": args.voice,
        "face": args.face,
        "setting": args.setting,
        "rank": args.rank,
        "targets": args.targets,
        "batch": b,
        "voice_seconds": args.seconds,
        "dtype": args.dtype,
        "trainable": params["trainable"],
        "lora_total": params["lora_total"],
        "lora_share_pct": round(100 * params["lora_share"], 4),
        "build_s": round(build_s, 2),
        "train_pairs_per_s": round(b * args.steps / train_s, 2),
        "extract_voice_per_s": round(b * args.steps / voice_s, 2),
        "extract_face_per_s": round(b * args.steps / face_s, 2),
    }
    if device.type == "cuda":
        out["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
