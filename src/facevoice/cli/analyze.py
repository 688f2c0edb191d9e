"""`facevoice analyze geometry | correlate | select`: the geometry study of embedding spaces."""

from __future__ import annotations

from pathlib import Path

import typer

analyze_app = typer.Typer(
    help="Geometry of embedding spaces: per-encoder/pair metrics, correlation, encoder selection.",
    no_args_is_help=True,
)


def _split_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", err=True)
    return typer.Exit(2)


def _show(df, title: str, floats: int = 4) -> None:
    from rich.table import Table

    from facevoice.cli._console import console as make_console
    from facevoice.core.tags import display_names

    df = df.copy()
    tag_cols = [c for c in ("encoder", "face_encoder", "voice_encoder") if c in df.columns]
    if tag_cols:  # short encoder names on screen; the CSV files keep the full tags
        names = display_names(str(t) for c in tag_cols for t in df[c])
        for c in tag_cols:
            df[c] = [names[str(t)] for t in df[c]]
        if "pair" in df.columns and {"face_encoder", "voice_encoder"} <= set(tag_cols):
            df["pair"] = df["face_encoder"] + " | " + df["voice_encoder"]
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.{floats}g}" if isinstance(v, float) else str(v) for v in row])
    make_console().print(table)


@analyze_app.command("geometry")
def geometry(
    manifest: Path = typer.Option(..., help="Manifest (parquet/csv) giving identity, modality and split of each item."),
    face_store: list[Path] = typer.Option([], "--face-store", help="Face embedding-store directory (repeatable)."),
    voice_store: list[Path] = typer.Option([], "--voice-store", help="Voice embedding-store directory (repeatable)."),
    out: Path = typer.Option(..., help="Output folder: encoders.csv, pairs.csv, cka_heatmap.png."),
    splits: str | None = typer.Option(None, help="Comma-separated manifest splits to use (default: all)."),
    pairs: bool = typer.Option(True, help="Also compute cross-modal metrics of every face x voice pair."),
    eer: bool = typer.Option(True, help="Also compute the CCA-baseline EER of every pair."),
    seed: int = typer.Option(0, help="Seed of every subsample, identity split and EER trial (published: 42)."),
    eer_protocol: str = typer.Option("centroids", help="CCA-baseline EER on identity 'centroids' or item 'samples'."),
    convention: str = typer.Option("standard", help="'standard' (METHODS.md) or 'reference' (published code)."),
) -> None:
    """Per-encoder geometry (intrinsic dimension, curvature, compactness) and per-pair cross-modal metrics."""
    from facevoice.analysis.study import run_geometry_study

    try:
        res = run_geometry_study(manifest, face_store, voice_store, out, with_pairs=pairs, with_eer=eer,
                                 splits=_split_list(splits), seed=seed, progress=True, convention=convention,
                                 eer_protocol=eer_protocol)  # fmt: skip
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    cols = ["encoder", "modality", "n_samples", "id_mle", "id_twonn", "curv_mean", "curv_gauss", "compactness_gap"]
    _show(res["encoders"][cols], "encoder geometry")
    if len(res["pairs"]):
        cols = [c for c in ("face_encoder", "voice_encoder", "cka_linear", "cka_rbf", "gw", "spectral_gap",
                            "id_mismatch", "eer_cca") if c in res["pairs"].columns]  # fmt: skip
        _show(res["pairs"][cols], "pair metrics")
    typer.echo(f"wrote {out}")


def _fmt_p(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.2e}"


def _parse_where(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not col.strip():
            raise typer.BadParameter(f"--where expects COLUMN=VALUE, got {item!r}")
        out[col.strip()] = value.strip()
    return out


@analyze_app.command("correlate")
def correlate(
    table: list[Path] = typer.Argument(None, help="Per-pair table: CSV, LaTeX .tex, or result .json file(s)."),
    pairs_json: list[Path] = typer.Option([], "--pairs-json", help="Per-pair result JSON (repeatable; see docs)."),
    metrics: str | None = typer.Option(None, help="Comma-separated metric columns (default: the study's metrics)."),
    target: str | None = typer.Option(None, help="EER column (default: eer, eer_cca, cross_modal_eer, ...)."),
    model: list[str] = typer.Option([], help="OLS model, e.g. 'cka_linear+id_mismatch' (repeatable)."),
    where: list[str] = typer.Option([], help="Keep rows with COLUMN=VALUE, e.g. dataset=voxceleb1 (repeatable)."),
    convention: str = typer.Option("standard", help="'standard' (METHODS.md) or 'reference' (published script)."),
    out: Path | None = typer.Option(None, help="Output folder: correlations.csv, ols.csv, scatter_<metric>.png."),
    label_column: str | None = typer.Option(None, help="Column naming each pair, to label the scatter points."),
    n_boot: int | None = typer.Option(None, help="Bootstrap resamples [default: 10000; 1000 with reference]."),
    ci: float = typer.Option(0.95, help="Bootstrap CI coverage."),
    seed: int | None = typer.Option(None, help="Bootstrap seed [default: 0; 42 with reference]."),
) -> None:
    """Spearman/Pearson (p-values, bootstrap CIs) and OLS (R², adjusted R², LOO R²) of metrics vs EER."""
    import pandas as pd

    from facevoice.analysis.correlation.study import correlation_study

    sources = [*(table or []), *pairs_json]
    if not sources:
        raise typer.BadParameter("give a per-pair table (CSV, .tex or .json) or --pairs-json files")
    if pairs_json and any(p.suffix.lower() != ".json" for p in sources):
        raise typer.BadParameter("--pairs-json combines only with other .json files")
    try:
        res = correlation_study(sources if len(sources) > 1 else sources[0], _split_list(metrics), target,
                                model or None, n_boot=n_boot, ci=ci, seed=seed, out_dir=out,
                                label_column=label_column, convention=convention,
                                where=_parse_where(where))  # fmt: skip
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    if len(res["dropped"]):
        typer.echo(f"left out {len(res['dropped'])} row(s) with missing values", err=True)
        if {"pair", "error"} & set(res["dropped"].columns):
            for _, row in res["dropped"].iterrows():
                typer.echo(f"  dropped: {' | '.join(str(row[c]) for c in ('pair', 'dataset', 'error') if c in row)}",
                           err=True)  # fmt: skip
    c = res["correlations"]
    pct = f"{100 * ci:g}% CI"
    view = pd.DataFrame({
        "metric": c["metric"],
        "n": c["n"],
        "Spearman ρ": c["spearman_rho"].map("{:.3f}".format),
        f"ρ {pct}": [f"[{a:.3f}, {b:.3f}]" for a, b in zip(c["spearman_ci_low"], c["spearman_ci_high"], strict=True)],
        "p(ρ)": c["spearman_p"].map(_fmt_p),
        "Pearson r": c["pearson_r"].map("{:.3f}".format),
        f"r {pct}": [f"[{a:.3f}, {b:.3f}]" for a, b in zip(c["pearson_ci_low"], c["pearson_ci_high"], strict=True)],
        "p(r)": c["pearson_p"].map(_fmt_p),
    })  # fmt: skip
    _show(view, f"correlation with {res['target']} (n = {len(res['table'])})")
    fits = pd.DataFrame([f.as_row() for f in res["ols"]])
    _show(fits[["model", "n", "r2", "adj_r2", "loo_r2", "f_pvalue"]], f"OLS on z-scored metrics ({convention})",
          floats=4)  # fmt: skip
    if out is not None:
        typer.echo(f"wrote {out}")


@analyze_app.command("select")
def select(
    spec: Path | None = typer.Option(None, help="Selection YAML (manifest, splits, face_stores, voice_stores)."),
    manifest: Path | None = typer.Option(None, help="Calibration manifest (instead of --spec)."),
    face_store: list[Path] = typer.Option([], "--face-store", help="Candidate face store (repeatable)."),
    voice_store: list[Path] = typer.Option([], "--voice-store", help="Candidate voice store (repeatable)."),
    splits: str | None = typer.Option(None, help="Comma-separated manifest splits to use (default: all)."),
    out: Path | None = typer.Option(None, help="Write the ranking CSV here."),
    heatmap: Path | None = typer.Option(None, help="Write the CKA heatmap (PNG) here."),
) -> None:
    """Rank candidate face x voice encoder pairs by linear CKA of identity centroids (higher = better)."""
    from facevoice.analysis.select import rank_pairs, select_from_spec

    if spec is not None:
        if manifest is not None or face_store or voice_store:
            raise typer.BadParameter("give either --spec or --manifest with --face-store/--voice-store, not both")
        ranking = select_from_spec(spec)
    else:
        if manifest is None:
            raise typer.BadParameter("give --spec, or --manifest with --face-store and --voice-store")
        ranking = rank_pairs(manifest, face_store, voice_store, _split_list(splits))
    _show(ranking[["rank", "face_encoder", "voice_encoder", "cka_linear", "n_identities"]], "encoder pairs by CKA")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        ranking.to_csv(out, index=False)
    if heatmap is not None:
        from facevoice.analysis.crossmodal.figures import cka_heatmap

        cka_heatmap(ranking, heatmap)


def register(app: typer.Typer) -> None:
    app.add_typer(analyze_app, name="analyze")
