"""`facevoice train` / `facevoice benchmark` through the CLI on a saved tiny bundle, and the recipes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from train_fixtures import METHOD, make_tiny_bundle
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.cli.train import parse_seeds
from facevoice.methods import METHODS
from facevoice.pipelines.benchmark.runner import BenchmarkError, folder_methods, load_benchmark, method_recipe
from facevoice.pipelines.recipes import available_recipes, load_recipe
from facevoice.report.paired import paired_vs_cca

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    make_tiny_bundle(seed=2).save(root / "bundle")
    recipes = root / "recipes"
    recipes.mkdir()
    base = {
        "benchmark": "tiny",
        "data": {"source": "bundle", "path": str(root / "bundle")},
        "train": {"batch_size": 16, "progress": False},
        "eval": {"gallery_sizes": [2, 5, 10]},
    }
    (recipes / "_base.yaml").write_text(yaml.safe_dump(base))
    tiny = {"base": "_base.yaml", "method": {"name": METHOD, "lr": 0.1}, "train": {"epochs": 3}}
    (recipes / "tiny.yaml").write_text(yaml.safe_dump(tiny))
    bench = {"base": "_base.yaml", "methods": ["tiny"], "seeds": [0, 1], "references": {"cca": True}}
    (recipes / "benchmark.yaml").write_text(yaml.safe_dump(bench))
    return root


def _ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_cli_train_overrides_seed_and_resume(setup, tmp_path):
    recipe = str(setup / "recipes" / "tiny.yaml")
    out = tmp_path / "run"
    args = ["train", recipe, "train.epochs=3", "train.stop_after_epoch=2", "--seed", "5", "--out", str(out)]
    res = _ok(runner.invoke(app, [*args, "--no-progress"]))
    assert "interrupted" in res.output
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["train"]["seed"] == 5 and cfg["train"]["epochs"] == 3
    res = _ok(runner.invoke(app, ["train", recipe, "train.epochs=3", "--seed", "5", "--out", str(out), "--resume"]))
    assert "complete" in res.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3


def test_cli_train_with_data_folder(setup, tmp_path):
    recipe = str(setup / "recipes" / "tiny.yaml")
    out = tmp_path / "run"
    _ok(runner.invoke(app, ["train", recipe, "train.epochs=1", "--data", str(setup / "bundle"), "--out", str(out)]))
    info = json.loads((out / "run.json").read_text())
    assert info["data"]["encoder_tags"] == {"face": "tiny-face", "voice": "tiny-voice"}
    bad = runner.invoke(app, ["train", recipe, "--face-csv", "x.csv", "--out", str(tmp_path / "b")])
    assert bad.exit_code != 0 and "--voice-csv" in bad.output


def test_cli_benchmark_tables_report_and_reuse(setup, tmp_path):
    bench = str(setup / "recipes" / "benchmark.yaml")
    out = tmp_path / "bench"
    res = _ok(runner.invoke(app, ["benchmark", bench, "train.epochs=2", "--out", str(out)]))
    assert "report" in res.output
    doc = json.loads((out / "results.json").read_text())
    methods = [r["method"] for r in doc["headline"]]
    assert methods == ["tiny", "cca"]
    head = {r["method"]: r for r in doc["headline"]}
    assert head["tiny"]["seeds"] == 2 and head["cca"]["seeds"] == 1
    assert head["tiny"]["UU EER std"] >= 0
    # learned, not at chance: beyond 3 null standard errors of this very list (Mann-Whitney under H0)
    trials = pd.read_csv(out / "protocols" / "trials.tsv", sep="\t")
    uu = trials[
        (trials["split"] == "test_unseen") & (trials["direction"] == "v2f") & (trials["constraint"] == "random")
    ]
    n1, n0 = int(uu["label"].sum()), int((uu["label"] == 0).sum())
    se0 = np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))
    assert head["tiny"]["UU AUC"] > 0.5 + 3 * se0 and head["tiny"]["UU EER"] < 0.5 - 2 * se0
    assert "tiny" in doc["beats_cca"]
    summary = pd.read_csv(out / "results.csv")
    assert {"verification", "matching", "retrieval"} <= set(summary["protocol"])
    ns = summary[(summary["protocol"] == "matching") & (summary["method"] == "tiny")]["constraint"].unique()
    assert set(ns) == {"N=2", "N=5", "N=10"}
    long = pd.read_csv(out / "results_long.csv")
    one = long[(long["method"] == "tiny") & (long["metric"] == "eer") & (long["split"] == "test_unseen")]
    one = one[(one["direction"] == "v2f") & (one["constraint"] == "random")]
    assert head["tiny"]["UU EER"] == pytest.approx(one["value"].mean())
    report = (out / "report.md").read_text()
    assert "| tiny |" in report and "Versus the CCA baseline" in report
    for fig in ("roc_unseen_v2f.png", "det_unseen_v2f.png", "one_to_n_unseen.png", "training_curves.png"):
        assert (out / fig).stat().st_size > 1000
    runs = pd.read_csv(out / "runs.csv")
    assert (runs.loc[runs["method"] == "tiny", "time_per_epoch_s"] > 0).all()
    # paired comparison with CCA, recomputable from the saved trial scores
    trials = pd.read_csv(out / "protocols" / "trials.tsv", sep="\t")
    saved = {m: dict(np.load(out / "trial_scores" / f"{m}.npz")) for m in ("tiny", "cca")}
    assert set(saved["tiny"]) == {"seed0", "seed1"} and set(saved["cca"]) == {"seed0"}
    assert all(v.shape == (len(trials),) and np.isfinite(v).all() for d in saved.values() for v in d.values())
    paired = pd.read_csv(out / "paired_vs_cca.csv")
    assert set(paired["method"]) == {"tiny"} and "UU AUC" in set(paired["column"])
    again = paired_vs_cca(trials, {m: {int(k[4:]): v for k, v in d.items()} for m, d in saved.items()})
    np.testing.assert_allclose(again["diff"], paired["diff"], atol=1e-12)
    np.testing.assert_allclose(again[["lo", "hi"]], paired[["lo", "hi"]], atol=1e-12)
    assert doc["paired_vs_cca"] and set(doc["beats_cca"]["tiny"]["paired_verdicts"]) == set(paired["column"])
    assert "paired bootstrap interval over probes" in report
    # a second call reuses the finished runs (same checkpoints) and gives the same table
    before = (out / "runs" / "tiny" / "seed0" / "checkpoints" / "best" / "model.safetensors").stat().st_mtime_ns
    _ok(runner.invoke(app, ["benchmark", bench, "train.epochs=2", "--out", str(out)]))
    after = (out / "runs" / "tiny" / "seed0" / "checkpoints" / "best" / "model.safetensors").stat().st_mtime_ns
    assert before == after
    pd.testing.assert_frame_equal(summary, pd.read_csv(out / "results.csv"))
    # a different configuration in the same folder is refused
    clash = runner.invoke(app, ["benchmark", bench, "train.epochs=3", "--out", str(out)])
    assert isinstance(clash.exception, BenchmarkError)


def test_recipes_in_repo_resolve():
    names = available_recipes()
    for bench in ("simvox1", "mavceleb", "vox1_features"):
        recipes = [n.split("/")[1] for n in names if n.startswith(f"{bench}/") and n != f"{bench}/benchmark"]
        assert {"fop", "sbnet", "paeff", "ssos", "contrastive", "cca"} <= set(recipes)  # the published ones
        for method in recipes:
            cfg = load_recipe(f"{bench}/{method}")
            assert cfg["method"]["name"] == method and cfg["benchmark"] == bench
            assert method in METHODS  # a recipe names a registered method
            assert cfg["data"]["source"] in ("simulated", "feature_csv")
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]
    cfg = load_benchmark("simvox1", seeds=[0], overrides=["train.epochs=2"])
    # no methods list in the file: every method recipe of the folder (cca runs as a reference)
    assert cfg["methods"] == ["contrastive", "fop", "paeff", "plda", "sbnet", "ssos", "xplda"] and cfg["seeds"] == [0]
    assert cfg["backend_rows"] == "all"
    assert load_benchmark("simvox1", methods=["fop"])["methods"] == ["fop"]
    fop = method_recipe(cfg, "fop")
    assert fop["train"]["epochs"] == 2 and fop["method"]["lr"] == 3e-4 and fop["data"]["preset"] == "vox1"
    assert fop["method"]["fusion"] == "linear" and method_recipe(cfg, "sbnet")["method"]["order"] == "random"
    assert fop["train"]["selection"] == "val"


def test_cli_embed_projects_a_bundle(setup, tmp_path):
    import numpy as np

    from facevoice.data.bundle import EmbeddingBundle
    from facevoice.runs.loading import embed_array, load_method

    recipe = str(setup / "recipes" / "tiny.yaml")
    run = tmp_path / "run"
    _ok(runner.invoke(app, ["train", recipe, "train.epochs=1", "--out", str(run), "--no-progress"]))
    _ok(runner.invoke(app, ["embed", str(run), "--data", str(setup / "bundle"), "--out", str(tmp_path / "proj")]))
    proj = EmbeddingBundle.load(tmp_path / "proj")
    src = EmbeddingBundle.load(setup / "bundle")
    want = embed_array(load_method(run), src.embeddings["voice"], "voice")
    np.testing.assert_array_equal(proj.embeddings["voice"], want)
    assert proj.embeddings["face"].shape == (len(src.rows("face")), 8)
    assert proj.tags["face"].endswith(":best:face")
    # a bundle of another feature width is refused with its folder named
    make_tiny_bundle(seed=1, d_face=20).save(tmp_path / "wide")
    res = runner.invoke(app, ["embed", str(run), "--data", str(tmp_path / "wide"), "--out", str(tmp_path / "p2")])
    assert res.exit_code != 0 and "face embeddings are 20-d but the run" in str(res.exception)


def test_overrides_target_one_method_or_skip_the_cca_reference():
    from facevoice.pipelines.benchmark.runner import overrides_for

    given = ["train.epochs=2", "method.lr=0.01", "fop:method.fusion=linear", "sbnet:train.batch_size=64"]
    assert overrides_for("fop", given) == ["train.epochs=2", "method.lr=0.01", "method.fusion=linear"]
    assert overrides_for("sbnet", given) == ["train.epochs=2", "method.lr=0.01", "train.batch_size=64"]
    assert overrides_for("cca", given) == ["train.epochs=2"]


def test_methods_given_as_recipe_files(setup, tmp_path):
    """``--methods`` takes recipe files as well as names; the file stem labels the method."""
    bench = str(setup / "recipes" / "benchmark.yaml")
    other = tmp_path / "tiny_fast.yaml"
    other.write_text(yaml.safe_dump({"method": {"name": METHOD, "lr": 0.05}, "train": {"epochs": 1}}))
    cfg = load_benchmark(bench, ["tiny", str(other)], [0], ["tiny_fast:method.lr=0.07"])
    r = method_recipe(cfg, str(other))
    assert r["method"]["lr"] == 0.07 and r["train"]["epochs"] == 1 and r["data"]["source"] == "bundle"
    assert method_recipe(cfg, "tiny.yaml")["method"]["lr"] == 0.1  # relative: beside the benchmark recipe
    with pytest.raises(BenchmarkError, match="no such file"):
        method_recipe(cfg, str(tmp_path / "missing.yaml"))
    out = tmp_path / "bench"
    methods = f"tiny,{other}"
    _ok(runner.invoke(app, ["benchmark", bench, "--methods", methods, "--seeds", "0", "--out", str(out)]))
    doc = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in doc["headline"]] == ["tiny", "tiny_fast", "cca"]
    assert (out / "runs" / "tiny_fast" / "seed0" / "run.json").is_file()
    clash = runner.invoke(app, ["benchmark", bench, "--methods", f"{other},{other}", "--out", str(out)])
    assert isinstance(clash.exception, BenchmarkError)


def test_benchmark_backend_rows_ablation_rows_and_calibration(setup, tmp_path):
    """plda / xplda rows, the PLDA back-end on CCA (<method>+plda), xplda's head (xplda-head), calibration."""
    out = tmp_path / "bench_plda"
    small = "method.n_pca=8"
    args = ["benchmark", str(setup / "recipes" / "benchmark.yaml"), "--methods", "plda,xplda", "--seeds", "0"]
    _ok(
        runner.invoke(
            app,
            [*args, "backend_rows=[cca]", "train.epochs=2", f"plda:{small}", f"xplda:{small}"] + ["--out", str(out)],
        )
    )
    doc = json.loads((out / "results.json").read_text())
    head = {r["method"]: r for r in doc["headline"]}
    assert set(head) == {"plda", "xplda", "xplda-head", "cca", "cca+plda"}
    kinds = doc["meta"]["score_kinds"]
    assert kinds["plda"] == kinds["xplda"] == kinds["cca+plda"] == "llr" and kinds["cca"] == "cosine"
    for name in ("plda", "xplda", "cca+plda"):
        r = head[name]
        assert 0 <= r["min Cllr"] <= r["Cllr"] + 1e-9 and r["min DCF"] <= r["act DCF"] + 1e-9
        assert r["UU EER"] < 0.5
    report = (out / "report.md").read_text()
    assert "## Calibration" in report and "| cca | cosine | n/a |" in report and "| cca+plda | LLR |" in report
    assert (out / "trial_scores" / "xplda-head.npz").exists() and (out / "trial_scores" / "cca+plda.npz").exists()
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["method"]) == {"plda", "xplda", "cca"}
    bad = runner.invoke(app, [*args, "backend_rows=[nope]", "--out", str(tmp_path / "b")])
    assert isinstance(bad.exception, BenchmarkError) and "backend_rows" in str(bad.exception)


def test_benchmark_without_a_methods_list_runs_the_trainable_recipes_beside_it(tmp_path):
    (tmp_path / "_base.yaml").write_text("train: {epochs: 1}\n")
    for stem, method in (("zeta", "fop"), ("alpha", "sbnet"), ("fit_free", "cca"), ("tiny", METHOD)):
        (tmp_path / f"{stem}.yaml").write_text(yaml.safe_dump({"base": "_base.yaml", "method": {"name": method}}))
    (tmp_path / "other_benchmark.yaml").write_text("seeds: [0]\n")  # no method: section, not a method
    (tmp_path / "benchmark.yaml").write_text("base: _base.yaml\nseeds: [0]\n")
    assert folder_methods(tmp_path / "benchmark.yaml") == ["alpha", "tiny", "zeta"]
    assert load_benchmark(str(tmp_path / "benchmark.yaml"))["methods"] == ["alpha", "tiny", "zeta"]
