"""`facevoice bundle`: manifest + face store + voice store → the bundle folder `train` / `benchmark` read."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("bundle")
    def bundle_cmd(
        manifest: Path = typer.Argument(..., help="manifest written by `facevoice prepare`"),
        face: Path = typer.Option(..., "--face", help="face embedding store (`facevoice extract` output)"),
        voice: Path = typer.Option(..., "--voice", help="voice embedding store"),
        out: Path = typer.Option(..., "--out", "-o", help="bundle folder to write (an old bundle there is replaced)"),
        allow_pending: bool = typer.Option(
            False, "--allow-pending", help="leave out items an unfinished extraction has not reached (recorded)"
        ),
    ) -> None:
        """Keep the items embedded in both stores; everything left out goes to OUT/skipped.csv with its reason."""
        from collections import Counter

        from rich.table import Table

        from facevoice.cli._console import console
        from facevoice.pipelines.bundle import make_bundle

        report = make_bundle(manifest, face, voice, out, allow_pending=allow_pending)
        table = Table(title=f"bundle → {report.out}")
        for col in report.summary.columns:
            table.add_column(str(col), justify="left" if col == "split" else "right")
        for row in report.summary.itertuples(index=False):
            table.add_row(*map(str, row))
        con = console()
        con.print(table)
        skipped = report.skipped
        if len(skipped):
            counts = Counter(f"{s}:{r}" for s, r in zip(skipped["stage"], skipped["reason"], strict=True))
            listing = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            con.print(f"left out {len(skipped)} ({listing}): {report.out / 'skipped.csv'}")
        else:
            con.print("every item of the manifest was embedded")
        one_sided = report.summary[["face only", "voice only"]].to_numpy().sum() if len(report.summary) else 0
        if one_sided:
            con.print(
                f"{int(one_sided)} identity/split pair(s) have one modality only: they are not trained on "
                "and probe nothing of the other modality"
            )
