"""`facevoice index` (gallery → index folder) and `facevoice search` (query file(s) → ranked results)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def _params(pairs: list[str] | None) -> dict:
    from facevoice.extract.build import parse_options

    return parse_options(pairs)


def _print_results(results, top_k: int) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    for r in results:
        if not r.ok:
            continue
        console.print(f"[bold]{r.query}[/bold] ({r.modality})")
        for h in r.identities:
            console.print(f"  {h.rank:>3}. {h.identity:<24} {h.score:+.4f}  ({h.n_items} items; best {h.best_path})")
        console.print(
            f"  top {len(r.hits)} items: " + ", ".join(f"{h.identity} {h.score:+.3f}" for h in r.hits[:top_k])
        )


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index_cmd(
        run: Path = typer.Argument(..., help="trained (or imported) run directory"),
        gallery: Path = typer.Option(
            ..., "--gallery", "-g", help="media folder <identity>/{faces,voices}/, manifest, bundle or store folder"
        ),
        modality: str = typer.Option(..., "--modality", "-m", help="face or voice: what the index holds"),
        out: Path = typer.Option(..., "--out", "-o", help="index folder (created, or extended with new items)"),
        kind: str = typer.Option("auto", "--kind", help="auto, flat (exact), hnsw, ivfsq or ivfpq"),
        param: list[str] = typer.Option(
            None,
            "--param",
            help="index parameter key=value (repeatable): hnsw M, ef_construction, ef_search; "
            "ivfsq nlist, nprobe, train_size; ivfpq also m, nbits",
        ),
        manifest: Path = typer.Option(None, "--manifest", help="manifest of a store gallery (identities, paths)"),
        which: str = typer.Option("best", "--which", help="best or last checkpoint"),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda (encoders and the run's method)"),
        batch_size: int = typer.Option(16, help="items per encoder forward pass"),
        workers: int = typer.Option(2, help="threads decoding gallery media"),
        note: str = typer.Option("", "--note", help="free text kept in index.json (shown by the app)"),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="extraction progress bar"),
    ) -> None:
        """Embed a gallery through a run and write (or extend) a faiss index folder; skips are listed."""
        from facevoice.pipelines.index import build_index

        if modality not in ("face", "voice"):
            raise typer.BadParameter(f"--modality must be face or voice, got {modality!r}")
        report = build_index(
            run, gallery, modality, out, kind=kind, params=_params(param), manifest=manifest, which=which,
            device=device, batch_size=batch_size, workers=workers, progress=progress, note=note,
        )  # fmt: skip
        typer.echo(
            f"{report['index']}: {report['kind']} index of {report['n_items']} {modality} items "
            f"({report['n_identities']} identities); added {report['added']}, already there "
            f"{report['already_indexed']}, skipped {report['skipped']} {report['skip_reasons'] or ''}".rstrip()
        )
        if report["skipped"]:
            typer.echo(f"skipped gallery items (reason, detail): {report['skips_csv']}", err=True)
        typer.echo(json.dumps(report))

    @app.command("search")
    def search_cmd(
        index: Path = typer.Argument(..., help="index folder written by `facevoice index`"),
        query: Path = typer.Option(
            ..., "--query", "-q", help="media file, folder, .txt list of files, .npy vectors or store folder"
        ),
        top_k: int = typer.Option(10, "--top-k", "-k", help="results per query (items and identities)"),
        aggregate: str = typer.Option("best", "--aggregate", help="identity score: best or mean over its items"),
        as_json: bool = typer.Option(False, "--json", help="print the results as one JSON document"),
        out: Path = typer.Option(None, "--out", "-o", help="also write the results: .json, .csv or .tsv"),
        run: Path = typer.Option(None, "--run", help="the index's run, if it moved (its weights must match)"),
        param: list[str] = typer.Option(None, "--param", help="search parameter for this call: ef_search=, nprobe="),
        device: str = typer.Option("cpu", "--device"),
    ) -> None:
        """Voice file(s) → ranked faces, or face file(s) → ranked voices; unusable queries get a skip line."""
        from facevoice.pipelines.search import report_dict, search_index, write_results

        if top_k < 1:
            raise typer.BadParameter("--top-k must be >= 1")
        if aggregate not in ("best", "mean"):
            raise typer.BadParameter("--aggregate must be best or mean")
        from facevoice.search import Searcher

        searcher = Searcher(index, run=run, device=device)
        if param:
            searcher.folder.index.set_search_params(**_params(param))
        searcher, results = search_index(searcher, query, top_k=top_k, aggregate=aggregate)
        sys.stdout.flush()
        for r in results:
            if not r.ok:
                print(r.skip_line(), file=sys.stderr)
        sys.stderr.flush()
        if out is not None:
            write_results(out, searcher, results, top_k, aggregate)
        if as_json:
            typer.echo(json.dumps(report_dict(searcher, results, top_k, aggregate), indent=2, allow_nan=False))
        else:
            _print_results(results, top_k)
            sys.stdout.flush()
            n_ok = sum(r.ok for r in results)
            print(f"{n_ok} of {len(results)} queries searched, {len(results) - n_ok} skipped", file=sys.stderr)
