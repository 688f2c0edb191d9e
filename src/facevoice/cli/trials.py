"""`facevoice trials`: build verification trials, 1:N galleries and retrieval lists from a manifest."""

from __future__ import annotations

from pathlib import Path

import typer


def _sizes(text: str) -> list[int]:
    """``"2-10"`` or ``"2,5,10"`` -> list of gallery sizes."""
    text = text.strip()
    if "-" in text and "," not in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(t) for t in text.split(",") if t.strip()]


def register(app: typer.Typer) -> None:
    @app.command("trials")
    def trials(
        manifest: Path = typer.Option(..., "--manifest", "-m", help="manifest (parquet, or .csv/.tsv)"),
        out: Path = typer.Option(..., "--out", "-o", help="folder to write the protocol files into"),
        split: list[str] = typer.Option(None, "--split", help="split(s) to build; default: the test splits present"),
        seed: int = typer.Option(0, "--seed", help="random seed (lists are deterministic per seed)"),
        constraints: str = typer.Option("random,G,N,A,GNA", "--constraints", help="comma-separated negative kinds"),
        n_neg: int = typer.Option(1, "--n-neg", help="negatives per probe and constraint"),
        gallery_sizes: str = typer.Option("2-10", "--gallery-sizes", help="N of 1:N matching: '2-10' or '2,5,10'"),
        n_galleries: int = typer.Option(
            None, "--n-galleries", help="galleries per split/direction/N (default: 1/probe)"
        ),
        directions: str = typer.Option("v2f,f2v", "--directions", help="comma-separated: v2f, f2v"),
        heard_language: list[str] = typer.Option(
            None, "--heard-language", help="training language(s) for heard/unheard subsets (default: auto)"
        ),
        kinds: str = typer.Option("verification,matching,retrieval", "--kinds", help="protocols to build"),
    ) -> None:
        """Build the evaluation protocols of a manifest and write them to a folder."""
        from rich.table import Table

        from facevoice.cli._console import console as make_console
        from facevoice.eval.protocols.protocol_set import make_protocol_folder

        ps = make_protocol_folder(
            manifest,
            out,
            splits=split or None,
            seed=seed,
            n_neg=n_neg,
            constraints=[c.strip() for c in constraints.split(",") if c.strip()],
            gallery_sizes=_sizes(gallery_sizes),
            n_galleries=n_galleries,
            directions=[d.strip() for d in directions.split(",") if d.strip()],
            heard_languages=heard_language or "auto",
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        )
        summary = ps.summary()
        table = Table(title=f"protocols written to {out}")
        for c in summary.columns:
            table.add_column(c, justify="right" if c == "count" else "left")
        for row in summary.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        make_console().print(table)
