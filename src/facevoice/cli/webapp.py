"""`facevoice app` (the web app over one face and/or one voice index) and `facevoice example` (its ready example).

(Not `cli/app.py`: importing that submodule would replace the package attribute `facevoice.cli.app`, the typer app.)
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("app")
    def app_cmd(
        indexes: list[Path] = typer.Argument(..., help="INDEX [INDEX2]: a face index and/or a voice index"),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="interface to listen on; anything but 127.0.0.1 exposes the indexes (warning)"
        ),
        port: int = typer.Option(7860, "--port"),
        top_k: int = typer.Option(10, "--top-k", help="results shown by default"),
        max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="largest upload accepted"),
        max_seconds: float = typer.Option(60.0, "--max-seconds", help="longest audio or video accepted"),
        run: Path = typer.Option(None, "--run", help="the indexes' run, if it moved (weights must match)"),
        device: str = typer.Option("cpu", "--device"),
    ) -> None:
        """Upload or record a voice → the top faces; upload a face → the top voices (Gradio, local by default)."""
        from facevoice.app import UploadLimits, launch_app

        limits = UploadLimits(max_mb=max_upload_mb, max_seconds=max_seconds)
        launch_app(indexes, host=host, port=port, run=run, device=device, top_k=top_k, limits=limits, block=True)

    @app.command("example")
    def example_cmd(
        data: Path = typer.Option(Path("../shared/data"), "--data", help="the shared real data folder"),
        out: Path = typer.Option(Path("example"), "--out", "-o", help="folder for manifest, stores, run, indexes"),
        progress: bool = typer.Option(True, "--progress/--no-progress"),
    ) -> None:
        """Build the example behind `make app`: run + face and voice indexes on the 6 people of the VoxCeleb1 sample."""
        from facevoice.pipelines.example import build_example

        result = build_example(data, out, progress=progress)
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "indexes"}))
        typer.echo(f"start the app: facevoice app {result['faces']} {result['voices']}")
