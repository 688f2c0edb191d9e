"""The released SBNet checkpoint loads into SBNetHead strictly; the one-layer and other-width branches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facevoice.heads.sbnet import SBNetHead
from facevoice.methods import create_method
from facevoice.methods.base import Batch


def test_released_sbnet_checkpoint_loads_strictly(shared_data) -> None:
    path = shared_data / "checkpoints" / "sbnet_vox1_fop_random.pth.tar"
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    head = SBNetHead(512, 512, 901, adapter="none")  # the paper's branch is the default: 512 -> 128 -> 128
    head.load_state_dict(state, strict=True)
    head.eval()
    x = torch.randn(4, 512, generator=torch.Generator().manual_seed(0))
    out = head(face=x, voice=x)
    assert out["face_logits"].shape == (4, 901) and torch.equal(out["face"], out["voice"])
    assert torch.allclose(head.embed(x, "voice").norm(dim=1), torch.ones(4))


def test_one_layer_and_hidden_width_branches() -> None:
    torch.manual_seed(0)
    one = SBNetHead(10, 10, 3, dim=6, adapter="none", layers=1).eval()
    assert one.embed_branch.fc2 is None and tuple(one.embed_branch.fc1[0].weight.shape) == (6, 10)
    assert not any(k.startswith("embed_branch.fc2") for k in one.state_dict())
    x = torch.randn(5, 10)
    fc1 = one.embed_branch.fc1
    want = F.normalize(torch.relu(fc1[1](fc1[0](x))), dim=1)  # Linear -> BN (eval) -> ReLU -> L2
    assert torch.allclose(one.embed(x, "face"), want)
    two = SBNetHead(10, 10, 3, dim=6, adapter="none", hidden_dim=8)
    assert tuple(two.embed_branch.fc1[0].weight.shape) == (8, 10)
    assert tuple(two.embed_branch.fc2[0].weight.shape) == (6, 8) and tuple(two.logits_layer.weight.shape) == (3, 6)
    with pytest.raises(ValueError, match="layers must be one of"):
        SBNetHead(10, 10, 3, layers=3)
    with pytest.raises(ValueError, match="no hidden width"):
        SBNetHead(10, 10, 3, dim=6, layers=1, hidden_dim=8)


def test_one_layer_sbnet_method_trains() -> None:
    torch.manual_seed(0)
    m = create_method("sbnet", 10, 10, 3, {"layers": 1, "loss": "opl"})
    batch = Batch(labels=torch.tensor([0, 1, 2, 0]), face=torch.randn(4, 10))
    out = m.training_step(batch, 0, 0)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and m.head.embed_branch.fc1[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="layers must be one of"):
        create_method("sbnet", 10, 10, 3, {"layers": 0})
