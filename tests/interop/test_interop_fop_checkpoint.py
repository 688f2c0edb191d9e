"""Importing FOP checkpoints: the official one and synthetic ones at other widths, gated and linear fusion."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from facevoice.cli import app
from facevoice.interop.checkpoints import CheckpointImportError, import_head, read_checkpoint
from facevoice.runs.loading import load_method
from reference.fop_checkpoint_reference import fop_reference_branches, fop_reference_forward, functional_forward

CKPT = "checkpoints/fop_mavceleb_v1_english.pth.tar"
runner = CliRunner()


@pytest.fixture(scope="module")
def ckpt(shared_data):
    return shared_data / CKPT


def test_checkpoint_info(ckpt):
    _, rec, info = read_checkpoint(ckpt)
    assert rec.format == "fop" and info["fusion"] == "gated" and info["n_classes"] == 64
    assert (info["d_face"], info["d_voice"], info["dim"], info["attention_dim"]) == (4096, 512, 128, 128)
    assert info["epoch"] == 21 and len(info["sha256"]) == 64


def test_imported_head_matches_checkpoint_layers(ckpt):
    sd = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    head, _ = import_head(ckpt)
    assert set(head.state_dict()) == set(sd)
    for k, v in head.state_dict().items():
        assert torch.equal(v, sd[k]), k
    g = torch.Generator().manual_seed(0)
    face, voice = torch.randn(16, 4096, generator=g), torch.randn(16, 512, generator=g)
    with torch.no_grad():
        out = head(face, voice)
        emb_f, emb_v = head.embed(face, "face"), head.embed(voice, "voice")
    fn = functional_forward(sd, face, voice)
    for key in ("face", "voice", "fused", "logits"):  # same ops on the raw tensors: bit-identical
        assert torch.equal(out[key], fn[key]), key  # head returns tanh'ed branch outputs under gated fusion
    assert torch.equal(emb_f, fn["face"]) and torch.equal(emb_v, fn["voice"])
    ref = fop_reference_forward(sd, face, voice)  # written out by hand: equal up to float rounding
    for key in ("face", "voice", "fused", "logits"):
        torch.testing.assert_close(fn[key], ref[key], rtol=1e-5, atol=1e-5)
    assert out["logits"].shape == (16, 64)


def _synthetic_fop(d_face, d_voice, dim, n_classes, fusion, attention_dim=None, seed=0):
    """An FOP state_dict in the released key layout, random weights and BatchNorm statistics."""
    g = torch.Generator().manual_seed(seed)

    def bn(p, n):
        return {
            p + "weight": torch.rand(n, generator=g) + 0.5,
            p + "bias": torch.randn(n, generator=g) * 0.1,
            p + "running_mean": torch.randn(n, generator=g) * 0.3,
            p + "running_var": torch.rand(n, generator=g) + 0.2,
            p + "num_batches_tracked": torch.tensor(500),
        }

    sd = {}
    for name, d in (("face_branch", d_face), ("voice_branch", d_voice)):
        sd[f"{name}.fc1.0.weight"] = torch.randn(dim, d, generator=g) / d**0.5
        sd[f"{name}.fc1.0.bias"] = torch.randn(dim, generator=g) * 0.1
        sd.update(bn(f"{name}.fc1.1.", dim))
    if fusion == "gated":
        a = "fusion_layer.attention."
        sd[a + "0.block.0.weight"] = torch.randn(attention_dim, 2 * dim, generator=g) * 0.1
        sd[a + "0.block.0.bias"] = torch.randn(attention_dim, generator=g) * 0.1
        sd.update(bn(a + "0.block.1.", attention_dim))
        sd[a + "1.weight"] = torch.randn(dim, attention_dim, generator=g) * 0.1
        sd[a + "1.bias"] = torch.randn(dim, generator=g) * 0.1
    else:
        sd["fusion_layer.weight1"], sd["fusion_layer.weight2"] = torch.rand(1, generator=g), torch.rand(1, generator=g)
    sd["logits_layer.weight"] = torch.randn(n_classes, dim, generator=g) * 0.1
    sd["logits_layer.bias"] = torch.randn(n_classes, generator=g) * 0.1
    return sd


@pytest.mark.parametrize(
    ("d_face", "d_voice", "dim", "n_classes", "fusion", "attention_dim"),
    [(64, 24, 32, 7, "gated", 16), (48, 48, 20, 5, "linear", None)],
)
def test_other_widths_and_fusions(tmp_path, d_face, d_voice, dim, n_classes, fusion, attention_dim):
    sd = _synthetic_fop(d_face, d_voice, dim, n_classes, fusion, attention_dim)
    torch.save({"epoch": 3, "state_dict": sd}, tmp_path / "c.pth.tar")
    res = runner.invoke(app, ["import-checkpoint", str(tmp_path / "c.pth.tar"), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert f"{fusion} fusion, face {d_face} / voice {d_voice} -> {dim}, {n_classes} classes" in res.output
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "not recorded" in info["inputs"]["face"]["expected_encoder"]  # no known release has these sizes
    assert info["inputs"]["face"]["tag"] == "external:unknown" and info["imported"]["release"] is None
    method = load_method(tmp_path / "run")
    for k, v in method.head.state_dict().items():
        assert torch.equal(v, sd[k]), k
    g = torch.Generator().manual_seed(1)
    face, voice = torch.randn(12, d_face, generator=g), torch.randn(12, d_voice, generator=g)
    f_raw, v_raw = fop_reference_branches(sd, face, voice)
    want_f, want_v = (torch.tanh(f_raw), torch.tanh(v_raw)) if fusion == "gated" else (f_raw, v_raw)
    with torch.no_grad():
        torch.testing.assert_close(method.embed(face, "face"), want_f, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(method.embed(voice, "voice"), want_v, rtol=1e-5, atol=1e-5)
        if fusion == "gated":
            torch.testing.assert_close(
                method.head(face, voice)["logits"], fop_reference_forward(sd, face, voice)["logits"]
            )


def test_fop_shapes_that_do_not_fit_are_refused(tmp_path):
    sd = _synthetic_fop(16, 8, 6, 3, "gated", 4)
    uneven = {**sd, "voice_branch.fc1.0.weight": torch.zeros(5, 8)}
    torch.save({"state_dict": uneven}, tmp_path / "u.pt")
    with pytest.raises(CheckpointImportError, match="face branch width 6 != voice branch width 5"):
        read_checkpoint(tmp_path / "u.pt")
    no_fusion = {k: v for k, v in sd.items() if not k.startswith("fusion_layer")}
    torch.save({"state_dict": no_fusion}, tmp_path / "n.pt")
    with pytest.raises(CheckpointImportError, match="FOP: no gated .* or linear .* fusion layer"):
        read_checkpoint(tmp_path / "n.pt")
    gate = {**sd, "fusion_layer.attention.1.weight": torch.zeros(6, 5)}
    torch.save({"state_dict": gate}, tmp_path / "g.pt")
    with pytest.raises(CheckpointImportError, match=r"shape fusion_layer\.attention\.1\.weight \(6, 5\) != \(6, 4\)"):
        read_checkpoint(tmp_path / "g.pt")
    torch.save({"state_dict": sd}, tmp_path / "ok.pt")
    with pytest.raises(CheckpointImportError, match=r"not an SBNet checkpoint .*found top-level keys \[state_dict\]"):
        read_checkpoint(tmp_path / "ok.pt", "sbnet")


def test_import_fop_alias_then_export_fame(ckpt, tmp_path):
    res = runner.invoke(app, ["import-fop", str(ckpt), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "64 classes" in res.output and "VGGFace" in res.output
    method = load_method(tmp_path / "run")
    head, _ = import_head(ckpt)
    rng = np.random.default_rng(1)
    F = rng.standard_normal((6, 4096)).astype(np.float32)
    V = rng.standard_normal((6, 512)).astype(np.float32)
    with torch.no_grad():
        ef, ev = head.embed(torch.from_numpy(F), "face"), head.embed(torch.from_numpy(V), "voice")
        assert torch.equal(method.embed(torch.from_numpy(F), "face"), ef)
    np.savetxt(tmp_path / "f.csv", F, delimiter=",", fmt="%.7g")
    np.savetxt(tmp_path / "v.csv", V, delimiter=",", fmt="%.7g")
    (tmp_path / "keys.txt").write_text("".join(f"t{i} x.wav y.jpg\n" for i in range(6)))
    args = ["export-fame", str(tmp_path / "run"), "--lang", "English", "--out", str(tmp_path / "sub")]
    args += ["--heard-face", str(tmp_path / "f.csv"), "--heard-voice", str(tmp_path / "v.csv")]
    args += ["--heard-trials", str(tmp_path / "keys.txt"), "--raw-l2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "sub" / "sub_score_English_heard.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == [f"t{i}" for i in range(6)]
    want = torch.linalg.norm(ef - ev, dim=1).double().numpy()  # distance of the checkpoint's own outputs
    np.testing.assert_allclose([float(ln.split()[1]) for ln in lines], want, atol=2e-6)
    assert not (tmp_path / "sub" / "sub_score_English_unheard.txt").exists()
    # the alias is the whole command: an SBNet file imports through it too, --format fop refuses it
    from reference.sbnet_checkpoint_reference import synthetic_sbnet_state

    torch.save({"state_dict": synthetic_sbnet_state([8, 4], 2)}, tmp_path / "s.pt")
    res = runner.invoke(app, ["import-fop", str(tmp_path / "s.pt"), "--out", str(tmp_path / "r2")])
    assert res.exit_code == 0 and "SBNet shared branch, 1 layer(s) 8 -> 4, 2 classes" in res.output
    res = runner.invoke(app, ["import-fop", str(tmp_path / "s.pt"), "--out", str(tmp_path / "r3"), "--format", "fop"])
    assert isinstance(res.exception, CheckpointImportError) and "not an FOP checkpoint" in str(res.exception)
