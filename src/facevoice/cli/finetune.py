"""`facevoice finetune` (LoRA fine-tuning, ``--dry-run`` budgets) and `facevoice probe` (layer-wise probing)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("finetune")
    def finetune_cmd(
        config: str = typer.Argument(..., help="YAML recipe file, or a packaged recipe such as finetune/tiny_smoke"),
        overrides: list[str] = typer.Argument(None, help="dotted overrides, e.g. lora.setting=both train.epochs=5"),
        set_: list[str] = typer.Option([], "--set", "-s", help="dotted override (same as the positional ones)"),
        run_dir: Path = typer.Option(None, help="output folder (default runs/finetune/<recipe name>)"),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="print the parameter budget of each LoRA setting and exit"
        ),
        resume: bool = typer.Option(
            False, "--resume", help="continue a killed run: finished seeds are kept, the torn one resumes exactly"
        ),
        progress: bool = typer.Option(None, "--progress/--no-progress", help="progress bar (train.progress)"),
    ) -> None:
        """Contrastive fine-tuning of a frozen voice and face encoder with optional LoRA; several seeds.

        Runs unchanged under `torchrun --nproc_per_node N` or `accelerate launch` (data parallel).
        """
        from facevoice.core.config import load_config
        from facevoice.pipelines.recipes import resolve_recipe

        recipe = resolve_recipe(config)
        cfg = load_config(recipe, [*(overrides or []), *set_])
        if dry_run:
            _print_budget(cfg)
            return
        from facevoice.finetune.run import finetune

        if progress is not None:
            cfg["train"] = {**dict(cfg.get("train") or {}), "progress": progress}
        out = run_dir or Path("runs") / "finetune" / recipe.stem
        summary = finetune(cfg, out, resume=resume)
        if summary["world_size"] > 1:
            import torch.distributed as dist

            if dist.is_initialized() and dist.get_rank() != 0:
                return
        _print_summary(summary, out)

    @app.command("probe")
    def probe_cmd(
        encoder: str = typer.Argument(..., help="registered encoder name (facevoice.encoders.ENCODERS)"),
        manifest: Path = typer.Argument(..., help="manifest (parquet/csv) with media paths and identities"),
        source: str = typer.Option(None, help="encoder source: hub name, local folder (or use --opt)"),
        opt: list[str] = typer.Option([], "--opt", help="encoder option key=value (YAML value), repeatable"),
        split: list[str] = typer.Option([], "--split", help="only these splits (repeatable; default all)"),
        test_size: float = typer.Option(0.3, help="held-out share of each identity's items"),
        max_per_identity: int = typer.Option(None, help="cap on items per identity"),
        seed: int = typer.Option(0),
        out_dir: Path = typer.Option(Path("runs/probe"), help="writes probe_<encoder>.csv and .png here"),
    ) -> None:
        """Layer-wise linear identity probing: held-out accuracy of a linear classifier per layer."""
        import yaml

        from facevoice.analysis.probing import layerwise_probe, plot_probe
        from facevoice.data.manifest import read_manifest
        from facevoice.encoders import create_encoder

        kwargs = {}
        for item in opt:
            key, sep, raw = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--opt {item!r} must look like key=value")
            kwargs[key] = yaml.safe_load(raw)
        if source is not None:
            kwargs["source"] = source
        enc = create_encoder(encoder, **kwargs)
        res = layerwise_probe(
            enc,
            read_manifest(manifest),
            splits=split or None,
            test_size=test_size,
            seed=seed,
            max_per_identity=max_per_identity,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        res.table.to_csv(out_dir / f"probe_{encoder}.csv", index=False)
        plot_probe({encoder: res.table}, out_dir / f"probe_{encoder}.png")
        _print_table(f"{encoder}: held-out identity accuracy per layer", res.table)
        if res.skipped or res.dropped_identities:
            typer.echo(
                f"skipped items: {len(res.skipped)}; identities with one item left out: {len(res.dropped_identities)}"
            )


def _print_budget(cfg: dict) -> None:
    import pandas as pd

    from facevoice.finetune.budget import dry_run
    from facevoice.finetune.config import resolve_finetune_config

    cfg = resolve_finetune_config(cfg)
    voice, face = cfg["voice_encoder"].get("source"), cfg["face_encoder"].get("source")
    m = cfg["model"]
    rows = dry_run(
        voice,
        face,
        cfg["lora"],
        embed_dim=int(m["embed_dim"]),
        head_hidden=m["head_hidden"],
        learnable_temperature=bool(m["learnable_temperature"]),
    )
    df = pd.DataFrame(rows)
    for col in ("lora_share", "trainable_share"):
        df[col] = (100 * df[col]).map("{:.3f}%".format)
    _print_table(f"parameter budget (LoRA {cfg['lora']})", df)


def _print_summary(summary: dict, out: Path) -> None:
    import pandas as pd

    headline = ("/verification/v2f/random/", "/verification/f2v/random/", "/matching/v2f/N=2/", "/retrieval/v2f/")
    rows = [
        {"metric": k, "mean": v["mean"], "std": v["std"], "seeds": v["n"]}
        for k, v in summary["summary"].items()
        if "/" not in k or (any(h in k for h in headline) and not k.endswith("min_dcf"))
    ]
    title = f"finetune ({summary['setting']}): headline figures; all in {out}/summary.csv"
    _print_table(title, pd.DataFrame(rows))


def _print_table(title: str, df) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console = Console()
    Console(width=max(console.width, 200)).print(table)  # budgets are wide: never truncate the numbers
