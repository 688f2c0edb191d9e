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
        methods: str = typer.Option("", help="Comma-separated methods (default: every trainable registered method)."),
        set_: list[str] = typer.Option([], "--set", help="Simulator field override, e.g. --set n_identities=300."),
        overrides: list[str] = typer.Argument(
            None, help="Dotted overrides for every method, e.g. train.batch_size=256."
        ),
    ) -> None:
        """Simulate VoxCeleb1-like data, train every method, evaluate every protocol, write a report."""
        import time

        from facevoice.cli._console import console as make_console
        from facevoice.core.config import parse_override
        from facevoice.pipelines.demo import run_demo

        sim_options = {}
        for text in set_:
            keys, value = parse_override(text)
            sim_options[".".join(keys)] = tuple(value) if isinstance(value, list) else value

        console = make_console()
        t0 = time.perf_counter()
        report = run_demo(
            out,
            seeds=[int(s) for s in seeds.split(",") if s.strip()],
            epochs=epochs,
            methods=[m.strip() for m in methods.split(",") if m.strip()],
            overrides=overrides or [],
            sim_options=sim_options,
        )
        console.print(f"[bold green]demo finished in {time.perf_counter() - t0:.0f} s[/]: report at {report}")
        console.print(headline_table(report))


_SHOWN = ("method", "UU EER", "UU AUC", "SH EER", "SH AUC", "AUC GNA", "1:2", "1:10")


def headline_table(report: Path):
    """A compact rich table of the report's headline (the columns that fit a terminal)."""
    from rich.table import Table

    table = Table(title="headline, % (UU = unseen-unheard, SH = seen-heard, V->F)")
    text = report.read_text() if report.exists() else ""
    rows = [
        line.strip().strip("|").split("|") for line in text.split("## Headline", 1)[-1].split("\n## ")[0].splitlines()
    ]
    rows = [[c.strip() for c in r] for r in rows if len(r) > 3 and not set("".join(r)) <= set("-: ")]
    if not rows:
        return f"(no headline table in {report})"
    keep = [i for i, name in enumerate(rows[0]) if name in _SHOWN]
    for i in keep:
        table.add_column(rows[0][i], justify="left" if i == 0 else "right")
    for row in rows[1:]:
        table.add_row(*[row[i] for i in keep])
    return table
