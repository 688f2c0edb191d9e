"""User errors met on real data are one `error:` line naming the file and the problem (issue 16 item 5 and the
bad-input table of docs/real-data.md); tables keep their full numbers in pipes (item 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facevoice.cli import main

REPO = Path(__file__).resolve().parents[2]


def _error(monkeypatch, capsys, *argv) -> str:
    monkeypatch.delenv("FACEVOICE_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["facevoice", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code in (1, 2) and "Traceback" not in err
    return err


@pytest.fixture
def corpus(tmp_path):
    for k in range(3):
        (tmp_path / "people" / f"p{k}" / "voices").mkdir(parents=True)
        sf.write(tmp_path / "people" / f"p{k}" / "voices" / "a.wav", np.zeros(1600, np.float32), 16000)
    return tmp_path


CASES = {
    # name: (argv builder, text the message must contain)
    "unknown encoder": (lambda t: ["extract", str(t / "m.parquet"), "-e", "resemblizer", "-o", str(t / "s")],
                        "unknown encoder 'resemblizer' (did you mean 'resemblyzer'?)"),
    "unknown option": (lambda t: ["extract", str(t / "m.parquet"), "-e", "resemblyzer", "--opt", "sample_rate=8000",
                                  "-o", str(t / "s")], "encoder 'resemblyzer' has no option 'sample_rate'"),
    "bad option value": (lambda t: ["extract", str(t / "m.parquet"), "-e", "dlib-face", "--opt", "fallback=crop",
                                    "-o", str(t / "s")], "fallback must be 'skip' or 'whole', got 'crop'"),
    "option not key=value": (lambda t: ["extract", str(t / "m.parquet"), "-e", "dlib-face", "--opt", "fallback",
                                        "-o", str(t / "s")], "encoder option 'fallback' is not key=value"),
    "manifest is a folder": (lambda t: ["extract", str(t / "people"), "-e", "resemblyzer", "-o", str(t / "s")],
                             "people: is a folder, not a manifest file"),
    "manifest missing": (lambda t: ["extract", str(t / "nope.parquet"), "-e", "resemblyzer", "-o", str(t / "s")],
                         "manifest not found"),
    "prepare --out is a folder": (lambda t: ["prepare", "folder", str(t / "people"), "--out", str(t / "people")],
                                  "people: is a folder; give a file name for the manifest"),
    "corpus folder missing": (lambda t: ["prepare", "folder", str(t / "nowhere"), "--out", str(t / "x.parquet")],
                              "dataset folder not found"),
    "meta without identity column": (lambda t: ["prepare", "folder", str(t / "people"), "--out", str(t / "x.parquet"),
                                                "--meta", str(t / "bad_meta.csv")], "needs an 'identity' column"),
    "split file with an unknown split": (lambda t: ["prepare", "folder", str(t / "people"), "--out",
                                                    str(t / "x.parquet"), "--split-file", str(t / "bad_split.csv")],
                                         "unknown split, e.g. 'p0' -> 'holdout'"),
    "stratify by a missing column": (lambda t: ["prepare", "folder", str(t / "people"), "--out", str(t / "x.parquet"),
                                                "--stratify", "age_band"], "cannot stratify by ['age_band']"),
    "bundle from a non-store": (lambda t: ["bundle", str(t / "m.parquet"), "--face", str(t / "people"), "--voice",
                                           str(t / "people"), "--out", str(t / "b")], "not an embedding store"),
    "train on a manifest instead of a bundle": (lambda t: ["train", "folder/cca", "--data", str(t / "m.parquet")],
                                                "is a file; a bundle is a folder"),
    "train on a folder that is not a bundle": (lambda t: ["train", "folder/cca", "--data", str(t / "people")],
                                               "not a bundle folder (no manifest.parquet)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_one_line_errors(case, corpus, monkeypatch, capsys):
    (corpus / "bad_meta.csv").write_text("who,gender\np0,f\n")
    (corpus / "bad_split.csv").write_text("p0,holdout\n")
    from facevoice.data.corpora.folder import prepare_folder

    prepare_folder(corpus / "people", corpus / "m.parquet", split="test")
    build, text = CASES[case]
    err = _error(monkeypatch, capsys, *build(corpus))
    first = err.splitlines()[0]
    assert first.startswith("error:") and len(err.splitlines()) == 2, err
    assert text in err, err


def test_tables_keep_full_numbers_in_a_pipe(tmp_path):
    rows = "".join(f"t{i} {0.123456789 * i!r} {'target' if i % 3 == 0 else 'nontarget'}\n" for i in range(30))
    (tmp_path / "s.txt").write_text("trial_id score label\n" + rows)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "COLUMNS": ""}
    out = subprocess.run(
        [sys.executable, "-m", "facevoice", "evaluate", "--scores", str(tmp_path / "s.txt"), "--reference"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout and "reference_auc %" in out.stdout  # cut to 80 columns before: "13.…"
