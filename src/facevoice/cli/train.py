"""`facevoice train`, `benchmark`, `embed`, `test-lists`, `export-fame`, `import-checkpoint` (alias `import-fop`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import typer


def _print_json_table(title: str, rows: dict) -> None:
    from rich.table import Table

    from facevoice.cli._console import console as make_console

    table = Table(title=title)
    keys = sorted({k for v in rows.values() for k in v if not isinstance(v[k], (dict, list))})
    table.add_column("name")
    for k in keys:
        table.add_column(k)
    for name, v in rows.items():
        table.add_row(name, *[_cell(v.get(k)) for k in keys])
    make_console().print(table)


def _cell(value) -> str:
    """A table cell: floats to 4 decimals, missing figures (None / NaN, e.g. no seen-heard split) as '—'."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _print_headline(out_dir: Path, title: str) -> None:
    doc = json.loads((out_dir / "results.json").read_text())
    rows = {
        r["method"]: {k: v for k, v in r.items() if k in ("UU EER", "UU AUC", "SH EER", "1:2")} for r in doc["headline"]
    }
    _print_json_table(title, rows)
    typer.echo(f"report: {out_dir / 'report.md'}")


def parse_seeds(text: str | Iterable[int]) -> list[int]:
    """``"0,1,2"`` or ``"0-2"`` -> [0, 1, 2]."""
    if not isinstance(text, str):
        return [int(s) for s in text]
    out: list[int] = []
    for part in text.split(","):
        a, sep, b = part.strip().partition("-")
        out += list(range(int(a), int(b) + 1)) if sep else [int(a)]
    return out


def _check_data_options(data, face_csv, voice_csv) -> None:
    if data and (face_csv or voice_csv):
        raise typer.BadParameter("give either --data (a bundle folder) or --face-csv/--voice-csv, not both")
    if bool(face_csv) != bool(voice_csv):
        raise typer.BadParameter("--face-csv and --voice-csv go together (row-aligned training features)")


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        recipe: str = typer.Argument(..., help="recipe file or <benchmark>/<method>, e.g. simvox1/fop"),
        overrides: list[str] = typer.Argument(None, help="dotted overrides, e.g. train.epochs=5 method.lr=1e-4"),
        data: Path = typer.Option(None, "--data", help="bundle folder (manifest.parquet + face/ + voice/)"),
        face_csv: Path = typer.Option(None, "--face-csv", help="FOP-style training face features (label last)"),
        voice_csv: Path = typer.Option(None, "--voice-csv", help="FOP-style training voice features, row-aligned"),
        test: list[str] = typer.Option(
            None,
            "--test",
            help="NAME=FACE_CSV,VOICE_CSV[,KEY] verification list (repeatable); scores: RUN/test_scores/",
        ),
        labels: str = typer.Option(
            None, "--labels", help="labels of the --test lists: auto | identity | parity (FOP reference convention)"
        ),
        seed: int = typer.Option(None, "--seed", help="training seed (train.seed)"),
        out: Path = typer.Option(None, "--out", "-o", help="run directory (default runs/<benchmark>/<method>/seed<k>)"),
        resume: bool = typer.Option(False, "--resume", help="continue an interrupted run from checkpoints/last"),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar"),
    ) -> None:
        """Train one method from a YAML recipe; checkpoints selected on validation identities only."""
        _check_data_options(data, face_csv, voice_csv)
        from facevoice.pipelines.recipes import train_recipe

        run_dir = train_recipe(
            recipe,
            overrides or [],
            data=str(data) if data else None,
            face_csv=str(face_csv) if face_csv else None,
            voice_csv=str(voice_csv) if voice_csv else None,
            tests=test or [],
            seed=seed,
            out=str(out) if out else None,
            resume=resume,
            progress=progress,
            labels=labels,
        )
        info = json.loads((run_dir / "run.json").read_text())
        best = info.get("best_metric")
        typer.echo(
            f"{info['status']}: {info['method']} seed {info['seed']}, best epoch {info.get('best_epoch')}"
            + (f", val EER {100 * best:.2f}%" if best is not None else "")
            + f" -> {run_dir}"
        )
        backend = info.get("backend") or {}
        chosen, where = backend, ""
        if "frontend_used" in backend:  # xplda: the back-end on its front-end's outputs or on the raw inputs
            used = backend["frontend_used"]
            chosen = backend["frontend"] if used else backend["raw_inputs"]
            where = " on the front-end's outputs" if used else " on the raw inputs"
        if chosen.get("params"):  # a method with a fitted score back-end (plda, xplda)
            val = chosen.get("val_criterion")
            typer.echo(
                f"back-end{where}: {chosen['params']}" + (f", val EER {100 * val:.2f}%" if val is not None else "")
            )
        if info.get("test_lists"):
            _print_json_table("test lists (best checkpoint)", json.loads((run_dir / "test_lists.json").read_text()))
            typer.echo(f"per-trial scores: {run_dir / 'test_scores'}")

    @app.command("benchmark")
    def benchmark(
        spec: str = typer.Argument("simvox1", help="benchmark name (recipe <name>/benchmark) or recipe file"),
        overrides: list[str] = typer.Argument(None, help="dotted overrides applied to every method recipe"),
        methods: str = typer.Option(None, "--methods", help="method recipes (names or YAML files), e.g. fop,a.yaml"),
        seeds: str = typer.Option(None, "--seeds", help="comma list or range of seeds, e.g. 0,1,2 or 0-2"),
        out: Path = typer.Option(None, "--out", "-o", help="output folder (default reports/benchmark_<name>)"),
        data: Path = typer.Option(None, "--data", help="bundle folder replacing the recipe's data"),
        face_csv: Path = typer.Option(None, "--face-csv", help="FOP-style training face features (label last)"),
        voice_csv: Path = typer.Option(None, "--voice-csv", help="FOP-style training voice features, row-aligned"),
        test: list[str] = typer.Option(None, "--test", help="NAME=FACE_CSV,VOICE_CSV verification list (repeatable)"),
        progress: bool = typer.Option(False, "--progress/--no-progress", help="progress bar per run"),
        folds: int = typer.Option(
            None, "--folds", help="repeat over K gender-stratified identity folds (each the test set once): mean ± std"
        ),
        fold_seed: int = typer.Option(0, "--fold-seed", help="seed of the identity folds"),
    ) -> None:
        """Methods × seeds -> results table (mean ± std), 1:N curves, ROC, training curves, report.md."""
        _check_data_options(data, face_csv, voice_csv)
        from facevoice.pipelines.benchmark import run_benchmark_recipe

        if folds is not None:
            if face_csv or voice_csv or test:
                raise typer.BadParameter("--folds re-splits a bundle's identities: give --data, not feature CSVs")
            from facevoice.pipelines.folds import run_benchmark_folds_recipe

            out_dir = run_benchmark_folds_recipe(
                spec,
                folds,
                overrides or [],
                fold_seed=fold_seed,
                methods=[m.strip() for m in methods.split(",") if m.strip()] if methods else None,
                seeds=parse_seeds(seeds) if seeds else None,
                out=str(out) if out else None,
                progress=progress,
                data=str(data) if data else None,
            )
            _print_headline(out_dir, "headline (fractions, mean over folds)")
            return
        out_dir = run_benchmark_recipe(
            spec,
            overrides or [],
            methods=[m.strip() for m in methods.split(",") if m.strip()] if methods else None,
            seeds=parse_seeds(seeds) if seeds else None,
            out=str(out) if out else None,
            progress=progress,
            data=str(data) if data else None,
            face_csv=str(face_csv) if face_csv else None,
            voice_csv=str(voice_csv) if voice_csv else None,
            tests=test or [],
        )
        _print_headline(out_dir, "headline (fractions, mean over seeds)")

    @app.command("embed")
    def embed(
        run_dir: Path = typer.Argument(..., help="trained run directory"),
        data: Path = typer.Option(..., "--data", help="bundle folder to project"),
        out: Path = typer.Option(..., "--out", "-o", help="folder for the projected bundle"),
        which: str = typer.Option("best", "--which", help="best or last checkpoint"),
    ) -> None:
        """Project a bundle through a trained method (then score it with `facevoice evaluate --bundle`)."""
        from facevoice.runs.loading import embed_run

        typer.echo(f"wrote {embed_run(run_dir, data, out, which)}")

    @app.command("test-lists")
    def test_lists(
        run_dir: Path = typer.Argument(..., help="trained run directory"),
        test: list[str] = typer.Option(..., "--test", help="NAME=FACE_CSV,VOICE_CSV[,KEY] (repeatable)"),
        labels: str = typer.Option("auto", "--labels", help="auto | identity | parity (FOP reference convention)"),
        which: str = typer.Option("best", "--which", help="best or last checkpoint"),
        out: Path = typer.Option(None, "--out", "-o", help="write the results as JSON here"),
        scores_dir: Path = typer.Option(None, "--scores-dir", help="write per-trial scores <name>.tsv here"),
    ) -> None:
        """EER / AUC of a trained run on FOP-style verification lists (row i of both files = trial i)."""
        from facevoice.interop.feature_csv import evaluate_run_lists

        res = evaluate_run_lists(run_dir, test, labels, which, scores_dir=scores_dir)
        _print_json_table("verification lists", res)
        if out:
            Path(out).write_text(json.dumps(res, indent=2))

    @app.command("export-fame")
    def export_fame(
        run_dir: Path = typer.Argument(..., help="trained (or imported) run directory"),
        lang: str = typer.Option(..., "--lang", help="training language, used in the file names"),
        heard_face: Path = typer.Option(None, "--heard-face"),
        heard_voice: Path = typer.Option(None, "--heard-voice"),
        heard_trials: Path = typer.Option(None, "--heard-trials", help="trial keys, one '<id> ...' per line"),
        unheard_face: Path = typer.Option(None, "--unheard-face"),
        unheard_voice: Path = typer.Option(None, "--unheard-voice"),
        unheard_trials: Path = typer.Option(None, "--unheard-trials"),
        out: Path = typer.Option(Path("."), "--out", "-o", help="folder for sub_score_<lang>_{heard,unheard}.txt"),
        raw_l2: bool = typer.Option(
            False, "--raw-l2", help="L2 of raw embed outputs (FOP baseline) instead of normalised"
        ),
        which: str = typer.Option("best", "--which"),
    ) -> None:
        """Write FAME challenge submission files (<trial_id> <L2 distance>, lower = same person)."""
        from facevoice.interop.fame import export_fame as run_export

        settings = {}
        for name, f, v, t in (
            ("heard", heard_face, heard_voice, heard_trials),
            ("unheard", unheard_face, unheard_voice, unheard_trials),
        ):
            given = [x is not None for x in (f, v, t)]
            if any(given) and not all(given):
                raise typer.BadParameter(f"--{name}-face, --{name}-voice and --{name}-trials go together")
            if all(given):
                settings[name] = {"face_csv": str(f), "voice_csv": str(v), "trials": str(t)}
        if not settings:
            raise typer.BadParameter("give the heard and/or unheard face, voice and trial files")
        report = run_export(run_dir, lang, settings, out, which, normalize=not raw_l2)
        typer.echo(json.dumps(report, indent=2))

    def import_checkpoint(
        checkpoint: Path = typer.Argument(..., help="released checkpoint (.pth.tar / .pt / .safetensors)"),
        out: Path = typer.Option(..., "--out", "-o", help="run directory to create"),
        fmt: str = typer.Option("auto", "--format", help="auto | fop | sbnet (auto: recognised from keys and shapes)"),
        method: str = typer.Option(None, "--method", help="registered method to hold the head (default: the format's)"),
        face_encoder: str = typer.Option(None, "--face-encoder", help="encoder of the face input features (record)"),
        voice_encoder: str = typer.Option(None, "--voice-encoder", help="encoder of the voice input features (record)"),
    ) -> None:
        """Import a released FOP or SBNet checkpoint as a run (for embed, test-lists, export-fame, evaluate)."""
        from facevoice.interop.checkpoints import FORMAT_CHOICES
        from facevoice.interop.checkpoints import import_checkpoint as run_import

        if fmt not in FORMAT_CHOICES:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMAT_CHOICES)}, got {fmt!r}")
        run_dir = run_import(checkpoint, out, fmt, method, face_encoder, voice_encoder)
        run = json.loads((run_dir / "run.json").read_text())
        info, inputs = run["imported"], run["inputs"]
        epoch = f", epoch {info['epoch']}" if info.get("epoch") is not None else ""
        typer.echo(f"imported {info['source']} ({info['summary']}{epoch}) -> {run_dir}")
        for m in ("face", "voice"):
            typer.echo(f"  {m} input: {inputs[m]['dim']}-d pre-extracted features of {inputs[m]['expected_encoder']}")

    app.command("import-checkpoint")(import_checkpoint)
    app.command("import-fop", help="Alias of import-checkpoint (the name of its first, FOP-only version).")(
        import_checkpoint
    )
