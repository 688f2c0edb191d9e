"""`facevoice simulate`: write a simulated benchmark (bundle + oracle latents) to a folder."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="New (or empty) folder for the simulation."),
        preset: str = typer.Option("vox1", help="Preset: vox1 (VoxCeleb1-like) or mavceleb (MAV-Celeb-like)."),
        seed: int = typer.Option(0, help="Seed of the sampled people and items (the fixed world has its own)."),
        set_: list[str] = typer.Option([], "--set", help="Override a SimConfig field, e.g. --set n_identities=300."),
        protocols: bool = typer.Option(True, help="Also build the evaluation protocols into OUT/protocols."),
    ) -> None:
        """Simulate the face/voice benchmark of docs/simceleb.md; prints its split summary."""
        from rich.table import Table

        from facevoice.cli._console import console as make_console
        from facevoice.core.config import parse_override
        from facevoice.data.manifest import summarize
        from facevoice.simceleb.simulate import save_simulation, simulate

        overrides = {}
        for text in set_:
            keys, value = parse_override(text)
            overrides[".".join(keys)] = tuple(value) if isinstance(value, list) else value
        console = make_console()
        with console.status(f"simulating preset {preset!r} (seed {seed})"):
            sim = simulate(preset, seed=seed, **overrides)
            save_simulation(sim, out)
        table = Table(title=f"simceleb {preset} seed {seed} -> {out}")
        summary = summarize(sim.bundle.manifest)
        for col in summary.columns:
            table.add_column(col)
        for row in summary.itertuples(index=False):
            table.add_row(*map(str, row))
        console.print(table)
        if protocols:
            from facevoice.eval.protocols.protocol_set import build_protocols

            with console.status("building protocols"):
                ps = build_protocols(sim.bundle.manifest, seed=seed)
                ps.save(out / "protocols")
            console.print(f"protocols: {len(ps.trials)} trials, {len(ps.galleries)} galleries -> {out / 'protocols'}")
