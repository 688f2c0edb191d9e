"""The main job end to end on a small simulation: every method trained, every protocol, a report."""

import torch
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.cli.demo import headline_table
from facevoice.methods import METHODS
from facevoice.methods.base import Method
from facevoice.pipelines.demo import demo_config


def test_demo_small_end_to_end(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--epochs", "1", "--methods", "fop,contrastive"]
    args += ["--set", "n_identities=90", "--set", "n_train=60", "--set", "n_val=10", "--set", "d_face=512"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    for name in ("fop", "contrastive", "cca", "cca+plda", "oracle"):
        assert f"| {name} |" in report
    for fig in ("roc_unseen_v2f.png", "det_unseen_v2f.png", "one_to_n_unseen.png"):
        assert (out / fig).stat().st_size > 10_000
    table = headline_table(out / "report.md")
    assert [c.header for c in table.columns][:3] == ["method", "UU EER", "UU AUC"]
    assert table.row_count == 5  # + the PLDA back-end on CCA
    # the oracle is the ceiling of this simulation
    oracle_row = [line for line in report.splitlines() if line.startswith("| oracle |")][0]
    cca_row = [line for line in report.splitlines() if line.startswith("| cca |")][0]
    assert float(oracle_row.split("|")[2]) < float(cca_row.split("|")[2]) < 50.0
    # re-running reuses the finished runs instead of training again
    run_files = sorted((out / "runs").glob("*/seed0/run.json"))
    assert len(run_files) == 3
    before = [p.stat().st_mtime_ns for p in run_files]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert [p.stat().st_mtime_ns for p in run_files] == before


class _Throwaway(Method):
    def embed(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        return x


def test_demo_runs_the_registry_s_trainable_methods(tmp_path):
    """No hand-kept list: a newly registered trainable method joins the demo, the training-free CCA does not."""
    methods = demo_config(tmp_path)["methods"]
    assert {"contrastive", "fop", "paeff", "sbnet", "ssos"} <= set(methods) and "cca" not in methods
    assert methods == sorted(methods)
    METHODS.register("zz_throwaway", _Throwaway)
    try:
        assert demo_config(tmp_path)["methods"][-1] == "zz_throwaway"
    finally:
        METHODS.unregister("zz_throwaway")
    assert demo_config(tmp_path, methods=["fop"])["methods"] == ["fop"]
