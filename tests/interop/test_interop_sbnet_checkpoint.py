"""Importing SBNet checkpoints: the released one and synthetic ones in the released key layout.

The reference is a numpy forward written from the raw tensors (tests/reference), so a facevoice
bug in the branch (a skipped BatchNorm, train-mode statistics, a missing layer, a wrong
normalisation) or in the run it writes shows up as a distance that disagrees.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.interop.checkpoints import CheckpointImportError, import_head, read_checkpoint
from facevoice.runs.loading import embed_array, load_method
from reference.sbnet_checkpoint_reference import (
    sbnet_reference_distance,
    sbnet_reference_embed,
    synthetic_sbnet_state,
)

RELEASE = "checkpoints/sbnet_vox1_fop_random.pth.tar"
runner = CliRunner()


@pytest.fixture(scope="module")
def release(shared_data):
    return shared_data / RELEASE


def _file_tensors(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def _ok(res):
    assert res.exit_code == 0, res.output
    return res


def _export_raw_l2(run, F, V, tmp_path, raw=True):
    """Write row-aligned CSVs (features + a label column) and trial keys; return export-fame's distances."""
    labels = np.arange(len(F)) % 3
    np.savetxt(tmp_path / "f.csv", np.c_[F, labels], delimiter=",", fmt="%.9g")
    np.savetxt(tmp_path / "v.csv", np.c_[V, labels], delimiter=",", fmt="%.9g")
    (tmp_path / "keys.txt").write_text("".join(f"trial{i} {i % 2}\n" for i in range(len(F))))
    args = ["export-fame", str(run), "--lang", "English", "--out", str(tmp_path / "sub")]
    args += ["--unheard-face", str(tmp_path / "f.csv"), "--unheard-voice", str(tmp_path / "v.csv")]
    args += ["--unheard-trials", str(tmp_path / "keys.txt")] + (["--raw-l2"] if raw else [])
    _ok(runner.invoke(app, args))
    lines = (tmp_path / "sub" / "sub_score_English_unheard.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == [f"trial{i}" for i in range(len(F))]
    return np.array([float(ln.split()[1]) for ln in lines])


def test_release_is_recognised_and_loaded_bit_for_bit(release):
    sd, rec, info = read_checkpoint(release)
    assert rec.format == "sbnet" and info["epoch"] == 44 and info["n_classes"] == 901
    assert info["widths"] == [512, 128, 128] and (info["d_face"], info["d_voice"]) == (512, 512)
    head, _ = import_head(release)
    raw = _file_tensors(release)
    got = head.state_dict()
    assert set(got) == set(raw)
    for k, v in raw.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k


def test_release_forward_matches_the_numpy_forward(release):
    head, _ = import_head(release)
    raw = _file_tensors(release)
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (64, 512)).astype(np.float32)
    with torch.no_grad():
        for modality in ("face", "voice"):  # one shared branch: the same map for both
            out = head.embed(torch.from_numpy(X), modality).numpy()
            np.testing.assert_allclose(out, sbnet_reference_embed(raw, X), atol=2e-6)
        logits = head(face=torch.from_numpy(X))["face_logits"].numpy()
    emb = sbnet_reference_embed(raw, X)
    want = emb @ raw["logits_layer.weight"].double().numpy().T + raw["logits_layer.bias"].double().numpy()
    np.testing.assert_allclose(logits, want, atol=1e-5)


def test_release_as_a_run_for_every_command(release, tmp_path):
    run = tmp_path / "run"
    res = _ok(runner.invoke(app, ["import-checkpoint", str(release), "--out", str(run)]))
    assert "SBNet shared branch, 2 layer(s) 512 -> 128 -> 128, 901 classes, epoch 44" in res.output
    info = json.loads((run / "run.json").read_text())
    assert info["method"] == "sbnet" and info["status"] == "imported"
    face, voice = info["inputs"]["face"], info["inputs"]["voice"]  # pre-extracted features, no facevoice encoder
    assert face == {
        "kind": "features",
        "tag": "external:facenet",
        "dim": 512,
        "expected_encoder": "FaceNet (Schroff et al., CVPR 2015; github.com/davidsandberg/facenet)",
        "facevoice_encoder": None,
    }
    assert voice["kind"] == "features" and voice["dim"] == 512 and "utterance-level" in voice["expected_encoder"]
    assert info["data"]["encoder_tags"] == {"face": "external:facenet", "voice": "external:utterance-level-aggregation"}
    assert info["imported"]["release"].startswith("SBNet")
    assert info["imported"]["sha256"] == hashlib.sha256(release.read_bytes()).hexdigest()
    raw = _file_tensors(release)
    rng = np.random.default_rng(1)
    F, V = rng.normal(0, 1, (40, 512)), rng.normal(0, 1, (40, 512))
    want = sbnet_reference_distance(raw, F.astype(np.float32), V.astype(np.float32))
    # export-fame: the test script's face-voice distance of the branch outputs (6 decimals in the file)
    np.testing.assert_allclose(_export_raw_l2(run, F, V, tmp_path), want, atol=2e-6)
    np.testing.assert_allclose(_export_raw_l2(run, F, V, tmp_path, raw=False), want, atol=2e-6)  # unit vectors
    # test-lists: cosine scores of the same pairs; AUC as scikit-learn computes it from the reference
    from sklearn.metrics import roc_auc_score

    labels = (np.arange(40) % 3 == np.arange(40)[::-1] % 3).astype(int)
    np.savetxt(tmp_path / "lf.csv", np.c_[F, np.arange(40) % 3], delimiter=",", fmt="%.9g")
    np.savetxt(tmp_path / "lv.csv", np.c_[V, np.arange(40)[::-1] % 3], delimiter=",", fmt="%.9g")
    spec = f"uu={tmp_path / 'lf.csv'},{tmp_path / 'lv.csv'}"
    _ok(runner.invoke(app, ["test-lists", str(run), "--test", spec, "--out", str(tmp_path / "l.json")]))
    lists = json.loads((tmp_path / "l.json").read_text())["uu"]
    assert lists["n_target"] == labels.sum()
    assert lists["auc"] == pytest.approx(roc_auc_score(labels, -want), abs=1e-9)
    # embed + evaluate: the export's CSVs (labels i % 3 in both) as a bundle, projected, scored on trials
    pair = f"{tmp_path / 'f.csv'},{tmp_path / 'v.csv'},test_unseen"
    _ok(runner.invoke(app, ["prepare", "features", "--pair", pair, "--out", str(tmp_path / "b")]))
    _ok(runner.invoke(app, ["embed", str(run), "--data", str(tmp_path / "b"), "--out", str(tmp_path / "p")]))
    pairs = [(i, i) for i in range(40)] + [(i, (i + 1) % 40) for i in range(40)]  # label: same identity i % 3
    (tmp_path / "t.tsv").write_text("".join(f"voice:v:{i}\tface:f:{j}\n" for i, j in pairs))
    args = [
        "evaluate",
        "--bundle",
        str(tmp_path / "p"),
        "--trials",
        str(tmp_path / "t.tsv"),
        "--out",
        str(tmp_path / "e"),
    ]
    _ok(runner.invoke(app, args))
    rows = json.loads((tmp_path / "e" / "results.json").read_text())["results"]
    f32 = F.astype(np.float32), V.astype(np.float32)
    ref = -sbnet_reference_distance(raw, f32[0][[j for _, j in pairs]], f32[1][[i for i, _ in pairs]])
    want_auc = roc_auc_score([int(i % 3 == j % 3) for i, j in pairs], ref)
    assert next(r["value"] for r in rows if r["metric"] == "auc") == pytest.approx(want_auc, abs=1e-9)


def _save(sd, path, how):
    """The layouts a release of this family may come in."""
    if how == "module_prefix":  # saved from a DataParallel model
        sd = OrderedDict((f"module.{k}", v) for k, v in sd.items())
    if how == "no_counters":  # written before PyTorch 0.4.1 (no BatchNorm num_batches_tracked)
        sd = OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    obj = sd if how == "bare" else {"epoch": 12, "state_dict": sd}
    torch.save(obj, path, _use_new_zipfile_serialization=how != "legacy")
    return path


@pytest.mark.parametrize(
    ("widths", "n_classes", "how"),
    [
        ([512, 128, 128], 901, "zip"),  # the release's shape (another training order: other weights)
        ([512, 256, 256], 1211, "legacy"),
        ([48, 32, 24], 7, "module_prefix"),  # hidden width != embedding width
        ([48, 20], 5, "no_counters"),  # one-layer branch
        ([64, 16], 3, "bare"),  # a bare state_dict
    ],
)
def test_synthetic_releases_export_the_reference_distance(tmp_path, widths, n_classes, how):
    sd = synthetic_sbnet_state(widths, n_classes, seed=len(widths) + n_classes)
    ckpt = _save(OrderedDict(sd), tmp_path / "checkpoint.pth.tar", how)
    run = tmp_path / "run"
    res = _ok(runner.invoke(app, ["import-checkpoint", str(ckpt), "--out", str(run)]))
    assert f"{len(widths) - 1} layer(s) {' -> '.join(map(str, widths))}, {n_classes} classes" in res.output
    rng = np.random.default_rng(7)
    F = rng.normal(0, 1, (30, widths[0])).astype(np.float32)
    V = rng.normal(0.2, 1.5, (30, widths[0])).astype(np.float32)
    np.testing.assert_allclose(_export_raw_l2(run, F, V, tmp_path), sbnet_reference_distance(sd, F, V), atol=2e-6)
    method = load_method(run)
    np.testing.assert_allclose(embed_array(method, F, "face"), sbnet_reference_embed(sd, F), atol=2e-6)
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    saved = {k.removeprefix("module."): v for k, v in saved.get("state_dict", saved).items()}
    got = method.head.state_dict()
    assert set(saved) <= set(got) and all(k.endswith("num_batches_tracked") for k in set(got) - set(saved))
    for k, v in saved.items():  # bit-identical to the file's tensors
        assert torch.equal(got[k], v), k


def test_sbnet_shapes_that_do_not_fit_are_refused(tmp_path):
    sd = synthetic_sbnet_state([20, 16, 16], 4)
    deeper = {**sd, **{k.replace("fc2", "fc3"): v for k, v in sd.items() if ".fc2." in k}}
    with pytest.raises(CheckpointImportError, match=r"unexpected embed_branch\.fc3\.0\.weight"):
        read_checkpoint(_save(deeper, tmp_path / "deep.pt", "zip"))
    bad_bn = {**sd, "embed_branch.fc1.1.running_var": torch.ones(15)}
    with pytest.raises(CheckpointImportError, match=r"shape embed_branch\.fc1\.1\.running_var \(15,\) != \(16,\)"):
        read_checkpoint(_save(bad_bn, tmp_path / "bn.pt", "zip"))
    no_logits = {k: v for k, v in sd.items() if not k.startswith("logits")}
    with pytest.raises(CheckpointImportError, match="SBNet: no logits_layer.weight"):
        read_checkpoint(_save(no_logits, tmp_path / "nolog.pt", "zip"))
    with pytest.raises(CheckpointImportError, match=r"not an FOP checkpoint \(FOP: no face_branch"):
        read_checkpoint(_save(sd, tmp_path / "ok.pt", "zip"), "fop")
    assert read_checkpoint(tmp_path / "ok.pt", "sbnet")[1].format == "sbnet"
