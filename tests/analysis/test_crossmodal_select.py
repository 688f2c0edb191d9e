"""Encoder-pair selection and the geometry study on real embedding stores and manifests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from facevoice.analysis.correlation.study import correlation_study
from facevoice.analysis.select import load_selection_spec, rank_pairs, select_from_spec
from facevoice.analysis.study import load_store, run_geometry_study
from facevoice.cli import app
from facevoice.data.manifest import make_manifest, write_manifest
from facevoice.store import EmbeddingStore

N_IDS, PER_ID = 40, 6


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    """Manifest + stores: face 'aligned' and voice share an identity latent; face 'random' does not."""
    root = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((N_IDS, 6))
    recs, emb = [], {"face": [], "voice": []}
    for i in range(N_IDS):
        split = "train" if i < 30 else "test_unseen"
        for mod in ("face", "voice"):
            for j in range(PER_ID):
                recs.append(
                    {"item_id": f"{mod}_{i:02d}_{j}", "identity": f"id{i:02d}", "modality": mod, "split": split}
                )
                emb[mod].append(i)
    manifest = make_manifest(recs)
    write_manifest(manifest, root / "manifest.parquet")
    rows_f, rows_v = np.array(emb["face"]), np.array(emb["voice"])
    ids_f = [r["item_id"] for r in recs if r["modality"] == "face"]
    ids_v = [r["item_id"] for r in recs if r["modality"] == "voice"]
    stores = {
        "face_aligned": (
            ids_f,
            (Z @ rng.standard_normal((6, 32)))[rows_f] + 0.3 * rng.standard_normal((len(ids_f), 32)),
        ),
        "face_half": (
            ids_f,
            np.hstack([Z[:, :3], rng.standard_normal((N_IDS, 3))])[rows_f] @ rng.standard_normal((6, 32))
            + 0.3 * rng.standard_normal((len(ids_f), 32)),
        ),
        "face_random": (ids_f, rng.standard_normal((N_IDS, 32))[rows_f] + 0.3 * rng.standard_normal((len(ids_f), 32))),
        "voice_a": (ids_v, (Z @ rng.standard_normal((6, 16)))[rows_v] + 0.3 * rng.standard_normal((len(ids_v), 16))),
    }
    for tag, (ids, X) in stores.items():
        EmbeddingStore.create(root / tag, tag, X.shape[1]).write_shard(ids, X)
    # A store holding an item that is not in the manifest: it must be counted, not silently used.
    extra = EmbeddingStore.create(root / "voice_extra", "voice_extra", 16)
    extra.write_shard([*ids_v, "stray_item"], np.vstack([stores["voice_a"][1], np.ones((1, 16))]))
    return root


def test_rank_pairs_puts_aligned_pair_first(calib):
    ranking = rank_pairs(
        calib / "manifest.parquet", [calib / "face_random", calib / "face_aligned"], [calib / "voice_a"]
    )
    assert ranking["rank"].tolist() == [1, 2]
    assert ranking["face_encoder"].tolist() == ["face_aligned", "face_random"]
    assert ranking["cka_linear"].iloc[0] > 0.5 > ranking["cka_linear"].iloc[1]
    assert (ranking["n_identities"] == N_IDS).all()
    test_only = rank_pairs(calib / "manifest.parquet", [calib / "face_aligned"], [calib / "voice_a"], ["test_unseen"])
    assert test_only["n_identities"].iloc[0] == 10


def test_selection_spec_and_cli(calib, tmp_path):
    spec = tmp_path / "select.yaml"
    spec.write_text(
        f"manifest: {calib / 'manifest.parquet'}\nface_stores: [{calib / 'face_aligned'}, {calib / 'face_random'}]\n"
        f"voice_stores: {calib / 'voice_a'}\n"
    )
    parsed = load_selection_spec(spec)
    assert parsed["voice_stores"] == [calib / "voice_a"] and parsed["splits"] is None
    assert select_from_spec(spec)["face_encoder"].iloc[0] == "face_aligned"
    out, heat = tmp_path / "rank.csv", tmp_path / "heat.png"
    res = CliRunner().invoke(app, ["analyze", "select", "--spec", str(spec), "--out", str(out), "--heatmap", str(heat)])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out)["face_encoder"].tolist() == ["face_aligned", "face_random"]
    assert heat.stat().st_size > 0 and "face_aligned" in res.output
    (tmp_path / "bad.yaml").write_text("manifest: m.parquet\nface_stores: [a]\nvoices: [b]\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_selection_spec(tmp_path / "bad.yaml")


def test_store_checks(calib):
    from facevoice.data.manifest import read_manifest

    manifest = read_manifest(calib / "manifest.parquet")
    view = load_store(calib / "voice_extra", manifest)
    assert view.n_not_in_manifest == 1 and view.X.shape == (N_IDS * PER_ID, 16)
    with pytest.raises(ValueError, match="given as a voice store"):
        rank_pairs(manifest, [calib / "face_aligned"], [calib / "face_random"])


def test_geometry_study_and_cli(calib, tmp_path):
    faces = [calib / "face_aligned", calib / "face_half", calib / "face_random"]
    res = run_geometry_study(calib / "manifest.parquet", faces, [calib / "voice_a"], tmp_path)
    enc, pairs = res["encoders"], res["pairs"]
    assert enc["encoder"].tolist() == ["face_aligned", "face_half", "face_random", "voice_a"]
    assert enc[["id_mle", "id_twonn", "curv_mean", "compactness_gap"]].notna().all().all()
    assert (pairs["eer_split"] == "manifest:train/test_unseen").all()
    by_face = pairs.set_index("face_encoder")
    assert by_face.loc["face_aligned", "eer_cca"] < by_face.loc["face_random", "eer_cca"]
    assert by_face.loc["face_aligned", "cka_linear"] > by_face.loc["face_half", "cka_linear"]
    assert by_face.loc["face_half", "cka_linear"] > by_face.loc["face_random", "cka_linear"]
    id_mle = enc.set_index("encoder")["id_mle"]
    assert by_face.loc["face_half", "id_mismatch"] == pytest.approx(abs(id_mle["face_half"] - id_mle["voice_a"]))
    for name in ("encoders.csv", "pairs.csv", "cka_heatmap.png"):
        assert (tmp_path / name).stat().st_size > 0
    # The study's table feeds the correlation study directly (default metrics and EER column).
    study = correlation_study(tmp_path / "pairs.csv", n_boot=100)
    assert study["target"] == "eer_cca" and study["metrics"][0] == "cka_linear"
    assert [f.predictors for f in study["ols"]] == [[m] for m in study["metrics"]]
    out = tmp_path / "cli"
    args = ["analyze", "geometry", "--manifest", str(calib / "manifest.parquet"), "--out", str(out), "--no-eer"]
    args += ["--face-store", str(calib / "face_aligned"), "--voice-store", str(calib / "voice_a")]
    cli = CliRunner().invoke(app, [*args, "--convention", "reference"])
    assert cli.exit_code == 0, cli.output
    written = pd.read_csv(out / "pairs.csv")
    assert "eer_cca" not in written.columns
    assert written["cka_linear"].iloc[0] == pytest.approx(pairs["cka_linear"].iloc[0])
    assert (pd.read_csv(out / "encoders.csv")["curv_gauss"] >= 0).all()  # the reference |k1| |k2|
    bad = CliRunner().invoke(app, [*args, "--convention", "paper"])
    assert bad.exit_code == 2 and "convention" in bad.output
