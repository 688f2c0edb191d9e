"""Importing the official FOP checkpoint: the imported head computes what the checkpoint's layers compute."""

from __future__ import annotations

import pytest
import torch

from facevoice.interop.fop_checkpoint import FOPCheckpointError, import_fop_head, read_fop_state_dict
from reference.fop_checkpoint_reference import fop_reference_forward, functional_forward

CKPT = "checkpoints/fop_mavceleb_v1_english.pth.tar"


@pytest.fixture(scope="module")
def ckpt(shared_data):
    return shared_data / CKPT


def test_checkpoint_info(ckpt):
    sd, info = read_fop_state_dict(ckpt)
    assert info["fusion"] == "gated" and info["n_classes"] == 64
    assert (info["d_face"], info["d_voice"], info["dim"]) == (4096, 512, 128)
    assert info["epoch"] == 21 and len(info["sha256"]) == 64


def test_imported_head_matches_checkpoint_layers(ckpt):
    sd, _ = read_fop_state_dict(ckpt)
    head, _ = import_fop_head(ckpt)
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


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "x.pth.tar"
    torch.save({"state_dict": {"foo.weight": torch.zeros(2)}}, bad)
    with pytest.raises(FOPCheckpointError, match="missing"):
        read_fop_state_dict(bad)
    junk = tmp_path / "junk.pth.tar"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(FOPCheckpointError, match="weights_only"):
        read_fop_state_dict(junk)
    with pytest.raises(FileNotFoundError):
        read_fop_state_dict(tmp_path / "none.pth.tar")


def test_import_as_run_then_export_fame(ckpt, tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from facevoice.cli import app
    from facevoice.runs.loading import load_method

    runner = CliRunner()
    res = runner.invoke(app, ["import-fop", str(ckpt), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "64 classes" in res.output
    method = load_method(tmp_path / "run")
    head, _ = import_fop_head(ckpt)
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
