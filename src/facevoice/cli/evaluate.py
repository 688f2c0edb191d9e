"""`facevoice evaluate`: a score file, or embeddings + trials / protocols -> metrics table, JSON and Markdown."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate(
        scores: Path = typer.Option(None, "--scores", help="score file (see docs/protocols.md for layouts)"),
        trials: Path = typer.Option(None, "--trials", help="trial list (labels for --scores, or pairs to score)"),
        key: Path = typer.Option(None, "--key", help="key file 'trial_id label' labelling --scores by trial id"),
        protocols: Path = typer.Option(None, "--protocols", help="protocol folder written by `facevoice trials`"),
        bundle: Path = typer.Option(None, "--bundle", help="embedding bundle folder (manifest + face/ + voice/)"),
        face_store: Path = typer.Option(None, "--face-store", help="face embedding store"),
        voice_store: Path = typer.Option(None, "--voice-store", help="voice embedding store"),
        manifest: Path = typer.Option(None, "--manifest", help="manifest (identities for labels and retrieval)"),
        run: Path = typer.Option(
            None, "--run", help="score the bundle/stores through this run's method and its own back-end (e.g. xplda)"
        ),
        metric: str = typer.Option("cosine", "--metric", help="pair score for embeddings: cosine or l2 (-L2)"),
        lower_is_better: bool = typer.Option(False, "--lower-is-better", help="score file holds distances"),
        reference: bool = typer.Option(False, "--reference", help="also the FOP/PAEFF fixed-grid EER and AUC"),
        p_target: float = typer.Option(0.01, "--p-target", help="target prior of minDCF and the actual DCF"),
        calibration: bool = typer.Option(
            True, "--calibration/--no-calibration", help="Cllr, min Cllr, actual DCF (scores read as natural-log LLRs)"
        ),
        out: Path = typer.Option(
            None, "--out", "-o", help="folder (or .json path) for results.json + results.md + trial_scores.tsv"
        ),
    ) -> None:
        """EER / AUC / minDCF, calibration (Cllr, min Cllr, actual DCF), 1:N accuracy, retrieval mAP / R@k.

        Prints the tables and writes JSON + Markdown. Cllr and the actual DCF read the scores as
        natural-log likelihood ratios: a calibrated back-end (e.g. facevoice's PLDA) scores Cllr
        below 1 bit and an actual DCF near the minimum; cosine scores do not.
        """
        from facevoice.cli._console import console as make_console
        from facevoice.eval.scoring.results import rich_tables
        from facevoice.pipelines.evaluate import run_evaluation

        if scores is None and bundle is None and face_store is None:
            raise typer.BadParameter("give --scores FILE, or --bundle DIR / --face-store + --voice-store")
        if scores is not None and trials is not None and protocols is not None:
            raise typer.BadParameter("with --scores give at most one of --trials FILE or --protocols DIR")
        if scores is None and (trials is None) == (protocols is None):
            raise typer.BadParameter("with embeddings give exactly one of --trials FILE or --protocols DIR")
        results, meta = run_evaluation(
            scores=scores,
            trials=trials,
            protocols=protocols,
            bundle=bundle,
            face_store=face_store,
            voice_store=voice_store,
            manifest=manifest,
            run=run,
            metric=metric,
            higher_is_better=not lower_is_better,
            reference=reference,
            p_target=p_target,
            calibration=calibration,
            out=out,
            key=key,
        )
        console = make_console()
        for table in rich_tables(results):
            console.print(table)
        if meta.get("unused_scores"):
            console.print(f"[yellow]{meta['unused_scores']} score line(s) matched no trial and were not used[/]")
        for path in meta.get("written", []):
            console.print(f"wrote {path}")
