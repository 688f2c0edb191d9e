"""`facevoice finetune --dry-run` and `facevoice probe` from the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from finetune_media import TINY_VISION
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.data.manifest import write_manifest


def test_dry_run_prints_the_paper_budget(tmp_path: Path) -> None:
    cfg = {
        "voice_encoder": {"name": "wavlm", "source": "microsoft/wavlm-large"},
        "face_encoder": {"name": "siglip", "source": "google/siglip-base-patch16-224"},
        "lora": {"setting": "face", "rank": 8, "targets": "all"},
    }
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["finetune", str(tmp_path / "paper.yaml"), "--dry-run"], terminal_width=250)
    assert res.exit_code == 0, res.output
    face_row = next(line for line in res.output.splitlines() if "│ face" in line)
    assert "1327104" in face_row and "0.325%" in face_row
    bad = CliRunner().invoke(app, ["finetune", str(tmp_path / "paper.yaml"), "--dry-run", "--set", "lora.rank=0"])
    assert bad.exit_code != 0 and "rank" in str(bad.exception)


def test_probe_command_on_real_faces(shared_data: Path, tmp_path: Path) -> None:
    rows = [
        {"item_id": f"s{p}_{i}", "identity": f"s{p}", "modality": "face", "split": "train", "path": str(path)}
        for p in range(1, 5)
        for i, path in enumerate(sorted((shared_data / "orl_faces" / f"s{p}").glob("*.pgm")))
    ]
    assert len(rows) == 40, "expected 10 ORL images for each of s1..s4"
    write_manifest(pd.DataFrame(rows), tmp_path / "faces.parquet")
    source = yaml.safe_dump({**TINY_VISION, "num_hidden_layers": 2}, default_flow_style=True).strip()
    args = ["probe", "siglip", str(tmp_path / "faces.parquet"), "--opt", f"source={source}", "--opt", "pooling=mean"]
    args += ["--opt", "detect_faces=false"]  # ORL images are tight face crops
    res = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path / "out")], terminal_width=200)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "out" / "probe_siglip.csv")
    assert table["layer"].tolist() == [0, 1, 2] and table["n_classes"].iloc[0] == 4
    assert table["accuracy"].between(0, 1).all() and table["accuracy"].max() > 0.5  # ORL people differ visibly
    assert (tmp_path / "out" / "probe_siglip.png").stat().st_size > 1000
