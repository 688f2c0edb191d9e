"""`facevoice demo`: the main job on the embedded simulated benchmark."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Report folder (re-running resumes)."),
        seeds: str = typer.Option("0", help="Comma-separated training seeds, e.g. 0,1,2."),
        epochs: int = typer.Option(8, help="Epochs per trained method (the papers use 50; see docs/training.md)."),
        methods: str = typer.Option(",".join(("fop", "sbnet", "paeff", "ssos", "contrastive")), help="Methods."),
        overrides: list[str] = typer.Argument(
            None, help="Dotted overrides for every method, e.g. train.batch_size=256."
        ),
    ) -> None:
        """Simulate VoxCeleb1-like data, train every method, evaluate every protocol, write a report."""
        import time

        from rich.console import Console

        from facevoice.demo import run_demo

        console = Console()
        t0 = time.perf_counter()
        report = run_demo(
            out,
            seeds=[int(s) for s in seeds.split(",") if s.strip()],
            epochs=epochs,
            methods=[m.strip() for m in methods.split(",") if m.strip()],
            overrides=overrides or [],
        )
        console.print(f"[bold green]demo finished in {time.perf_counter() - t0:.0f} s[/]: report at {report}")
        text = report.read_text() if report.exists() else ""
        if "## Headline" in text:  # print the headline table of the report
            from rich.markdown import Markdown

            section = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
            console.print(Markdown("## Headline" + section))
