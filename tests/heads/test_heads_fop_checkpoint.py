"""The official FOP MAV-Celeb checkpoint loads into FOPHead with strict key and shape matching."""

from __future__ import annotations

import torch

from facevoice.heads.fop import FOPHead


def test_official_fop_checkpoint_loads_strictly(shared_data) -> None:
    path = shared_data / "checkpoints" / "fop_mavceleb_v1_english.pth.tar"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert set(ckpt) == {"epoch", "state_dict"}
    state = ckpt["state_dict"]
    head = FOPHead(4096, 512, state["logits_layer.weight"].shape[0], fusion="gated")
    head.load_state_dict(state, strict=True)
    head.eval()
    g = torch.Generator().manual_seed(0)
    face, voice = torch.randn(4, 4096, generator=g), torch.randn(4, 512, generator=g)
    out = head(face, voice)
    assert out["logits"].shape == (4, 64) and torch.isfinite(out["logits"]).all()
    assert torch.equal(head.face_branch.fc1[1].running_var, state["face_branch.fc1.1.running_var"])
    ef = head.embed(face, "face")
    assert ef.shape == (4, 128) and ef.abs().max() < 1  # tanh of unit-norm vectors
