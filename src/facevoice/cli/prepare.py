"""`facevoice prepare {folder,voxceleb1,mavceleb,features}`: media or feature files → validated manifest."""

from __future__ import annotations

from pathlib import Path

import typer


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected three numbers train,val,test, got {text!r}") from None
    if len(parts) != 3:
        raise typer.BadParameter(f"expected train,val,test fractions, got {text!r}")
    return parts[0], parts[1], parts[2]


def _show(df, out: Path) -> None:
    from rich.table import Table

    from facevoice.cli._console import console
    from facevoice.data.corpora.folder import prepare_skips_path
    from facevoice.data.manifest import summarize

    table = Table(title=f"manifest → {out}")
    summary = summarize(df)
    for col in summary.columns:
        table.add_column(str(col))
    for row in summary.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    err = console(stderr=True)
    err.print(table)
    tests = summary[summary["split"].isin(["test_unseen", "test"])]
    few = sorted({s for s, n in zip(tests["split"], tests["identities"], strict=True) if n < 2})
    if few:
        err.print(
            f"[yellow]warning: {', '.join(few)} holds fewer than 2 identities: no verification trial can be built; "
            "use a larger test share (--ratios), a split file, or `facevoice benchmark ... --folds K`[/]"
        )
    skipped = df.attrs.get("skipped") or []
    if skipped and out.suffix:
        from collections import Counter

        reasons = ", ".join(f"{n} {r}" for r, n in Counter(s["reason"] for s in skipped).most_common())
        err.print(f"{len(skipped)} file(s) or folder(s) not in the manifest ({reasons}): {prepare_skips_path(out)}")


def register(app: typer.Typer) -> None:
    prep = typer.Typer(help="Write a validated manifest from a corpus layout or feature CSVs.", no_args_is_help=True)
    app.add_typer(prep, name="prepare")

    @prep.command("folder")
    def folder(
        root: Path = typer.Argument(..., help="<root>/<identity>/{faces,voices}/..."),
        out: Path = typer.Option(..., "--out", "-o", help="manifest file (.parquet)"),
        ratios: str = typer.Option(
            None, help="random identity split train,val,test_unseen [default: 0.7,0.1,0.2, or the meta's split column]"
        ),
        split: str = typer.Option(None, help="put every item in this split instead (e.g. test)"),
        split_file: Path = typer.Option(
            None, help="a fixed identity split: CSV/TSV of identity,split (train / val / test)"
        ),
        stratify: str = typer.Option(
            "auto", help="meta columns the random split balances (e.g. gender,nationality); auto = gender; none"
        ),
        seen_fraction: float = typer.Option(0.0, help="share of each train identity's videos → test_seen"),
        meta: Path = typer.Option(None, help="CSV/TSV: identity[,gender,nationality,age_band,language,split]"),
        seed: int = typer.Option(0),
    ) -> None:
        """Generic folder of real files: <root>/<identity>/{faces,voices}/[<video>/]<file>."""
        from facevoice.data.corpora.folder import prepare_folder

        _show(
            prepare_folder(
                root,
                out,
                ratios=_ratios(ratios) if ratios else None,
                split=split,
                split_file=split_file,
                stratify=stratify,
                seen_fraction=seen_fraction,
                meta=meta,
                seed=seed,
            ),
            out,
        )

    @prep.command("voxceleb1")
    def voxceleb1(
        voice_root: Path = typer.Option(..., help="VoxCeleb1 wav tree <id>/<video>/<clip>.wav"),
        face_root: Path = typer.Option(..., help="face frames <name>/[1.6/]<video>/*.jpg or VGGFace1 <name>/*.jpg"),
        meta: Path = typer.Option(..., help="vox1_meta.csv"),
        out: Path = typer.Option(..., "--out", "-o"),
        split: str = typer.Option("meta", help="meta (dev/test column), ssos (needs --protocol-dir) or ratios"),
        protocol_dir: Path = typer.Option(None, help="folder with vox1_{train,val,test}.csv"),
        ratios: str = typer.Option(
            "0.8,0.1,0.1", help="with --split ratios: train,val,test_unseen (gender-stratified)"
        ),
        val_fraction: float = typer.Option(0.1),
        seen_fraction: float = typer.Option(0.0, help="share of each train identity's videos → test_seen"),
        seed: int = typer.Option(0),
    ) -> None:
        """VoxCeleb1 voices + face frames / VGGFace1 images, joined through vox1_meta.csv."""
        from facevoice.data.corpora.voxceleb1 import prepare_voxceleb1

        df = prepare_voxceleb1(
            voice_root,
            face_root,
            meta,
            out,
            split=split,
            protocol_dir=protocol_dir,
            ratios=_ratios(ratios),
            val_fraction=val_fraction,
            seen_fraction=seen_fraction,
            seed=seed,
        )
        _show(df, out)

    @prep.command("mavceleb")
    def mavceleb(
        root: Path = typer.Argument(..., help="folder with faces/<id>/<lang>/... and voices/<id>/<lang>/..."),
        version: str = typer.Option(..., help="v1 (English-Urdu), v2 (English-Hindi) or v3 (English-German)"),
        out: Path = typer.Option(..., "--out", "-o"),
        splits_dir: Path = typer.Option(None, help="official <Language>_train.txt / <Language>_test.txt files"),
        test_root: Path = typer.Option(None, help="root of the test media named in the test files"),
        ratios: str = typer.Option("0.8,0.1,0.1", help="identity split when no split files are given"),
        seed: int = typer.Option(0),
    ) -> None:
        """MAV-Celeb v1/v2/v3 (FAME)."""
        from facevoice.data.corpora.mavceleb import prepare_mavceleb

        _show(
            prepare_mavceleb(
                root, version, out, splits_dir=splits_dir, test_root=test_root, ratios=_ratios(ratios), seed=seed
            ),
            out,
        )

    @prep.command("features")
    def features(
        pair: list[str] = typer.Option(..., help="face.csv,voice.csv,split[,namespace[,language]] (repeatable)"),
        out: Path = typer.Option(..., "--out", "-o", help="folder: manifest.parquet, face_store/, voice_store/"),
    ) -> None:
        """Precomputed FOP-style feature CSVs (no header, last column = identity, row-aligned)."""
        from facevoice.data.corpora.features import prepare_features

        _show(prepare_features(pair, out), out / "manifest.parquet")
