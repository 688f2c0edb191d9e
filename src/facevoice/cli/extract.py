"""`facevoice extract`: manifest + frozen encoder → resumable embedding store."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("extract")
    def extract_cmd(
        manifest: Path = typer.Argument(..., help="manifest (parquet/csv) written by `facevoice prepare`"),
        encoder: str = typer.Option(
            ...,
            "--encoder",
            "-e",
            help="registered encoder, e.g. wavlm, siglip, resemblyzer (an unknown name lists all)",
        ),
        out: Path = typer.Option(..., "--out", "-o", help="embedding store folder (created or resumed)"),
        source: str = typer.Option(
            None, help="transformers encoders: hub name, local model folder, or config .json/.yaml"
        ),
        opt: list[str] = typer.Option(
            None, "--opt", help="encoder option key=value (repeatable), e.g. layer=6, pooling=mean"
        ),
        batch_size: int = typer.Option(16, help="items per forward pass"),
        shard_size: int = typer.Option(256, help="items per shard file (the resume granularity)"),
        workers: int = typer.Option(2, help="threads decoding media ahead of the model"),
        layers: bool = typer.Option(False, help="also store the pooled hidden state of every layer (out/layers)"),
        device: str = typer.Option(
            None, help="cpu, cuda, cuda:1 or auto (per process under torchrun: cuda:LOCAL_RANK)"
        ),
        media_root: Path = typer.Option(
            None, help="base folder for relative media paths (default: the manifest's folder)"
        ),
        progress: bool = typer.Option(True, help="show a progress bar"),
        threads: int = typer.Option(None, help="torch CPU threads per process (default: torch's choice)"),
    ) -> None:
        """Embed every item of the encoder's modality; re-run to resume, skips go to skip_report.csv.

        Several processes: `torchrun --standalone --nproc_per_node N -m facevoice extract MANIFEST ...`.
        """
        import json
        import os

        from facevoice.extract import extract, result_dict
        from facevoice.extract.build import build_encoder, parse_options

        if device in ("cuda", "auto") and "LOCAL_RANK" in os.environ:
            import torch

            if torch.cuda.is_available():
                device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        enc = build_encoder(encoder, source, parse_options(opt), device)
        res = extract(
            manifest,
            enc,
            out,
            batch_size=batch_size,
            shard_size=shard_size,
            num_workers=workers,
            layers=layers,
            media_root=media_root,
            progress=progress,
        )
        _print_summary(result_dict(res), out)
        report = out / "extract_report.json"
        if report.exists():
            doc = json.loads(report.read_text())
            left = sum((doc.get("left_out_by_prepare") or {}).values())
            if doc.get("skipped") or left:
                extra = f" and {left} file(s) prepare left out of the manifest" if left else ""
                typer.echo(f"{doc.get('skipped', 0)} skipped item(s){extra}, with reasons: {out / 'skip_report.csv'}")
        typer.echo(
            json.dumps(
                {k: res.__dict__[k] for k in ("embedded", "skipped")}
                | {"items_per_second": round(res.items_per_second, 2)}
            )
        )


def _print_summary(res: dict, out: Path) -> None:
    from rich.table import Table

    from facevoice.cli._console import console as make_console

    title = f"extract → {out} (rank {res['rank']}/{res['world_size']})"
    table = Table(title=title, min_width=len(title))  # the title on one line
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "items_total",
        "items_done_before",
        "embedded",
        "skipped",
        "items_per_second",
        "load_seconds",
        "encode_seconds",
        "seconds",
    ):
        val = res[key]
        table.add_row(key, f"{val:.2f}" if isinstance(val, float) else str(val))
    for reason, n in sorted(res["skip_reasons"].items()):
        table.add_row(f"skip: {reason}", str(n))
    for note, n in sorted(res["notes"].items()):
        table.add_row(note, str(n))
    make_console(stderr=True).print(table)
