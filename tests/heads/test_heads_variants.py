"""Head-specific behaviour: FOP fusions and init, SBNet adapters, PAEFF ball and EGFF variants, SSoS reset."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from facevoice.heads.contrastive import ContrastiveHead
from facevoice.heads.fop import FOPHead
from facevoice.heads.paeff import PAEFFHead, to_poincare
from facevoice.heads.sbnet import SBNetHead
from facevoice.heads.ssos import SSoSHead


def test_fop_init_and_gated_fusion_formula() -> None:
    torch.manual_seed(0)
    head = FOPHead(10, 6, 4, fusion="gated").eval()
    assert torch.all(head.logits_layer.bias == 0.01) and torch.all(head.face_branch.fc1[0].bias == 0.01)
    face, voice = torch.randn(3, 10), torch.randn(3, 6)
    out = head(face, voice)
    f, v = head.face_branch(face), head.voice_branch(voice)
    a = torch.sigmoid(head.fusion_layer.attention(torch.cat([f, v], 1)))
    assert torch.allclose(out["fused"], a * torch.tanh(f) + (1 - a) * torch.tanh(v))
    assert torch.allclose(head.embed(face, "face"), torch.tanh(f))
    assert torch.allclose(f.norm(dim=1), torch.ones(3))


def test_fop_linear_fusion_weights_and_embeddings() -> None:
    torch.manual_seed(0)
    head = FOPHead(10, 6, 4, fusion="linear").eval()
    w1, w2 = head.fusion_layer.weight1.item(), head.fusion_layer.weight2.item()
    assert 0 <= w1 <= 1 and 0 <= w2 <= 1
    face, voice = torch.randn(3, 10), torch.randn(3, 6)
    f, v = head.face_branch(face), head.voice_branch(voice)
    assert torch.allclose(head(face, voice)["fused"], w1 * f + w2 * v)
    assert torch.equal(head.embed(face, "face"), f)
    with pytest.raises(ValueError, match="fusion"):
        FOPHead(10, 6, 4, fusion="bilinear")


def test_sbnet_adapters_and_shared_branch() -> None:
    same = SBNetHead(8, 8, 3)
    assert isinstance(same.face_adapter, torch.nn.Identity)
    diff = SBNetHead(16, 8, 3)
    assert diff.face_adapter.out_features == diff.voice_adapter.out_features == 8
    assert SBNetHead(16, 8, 3, adapter_dim=12).face_adapter.out_features == 12
    assert isinstance(SBNetHead(8, 8, 3, adapter="always").face_adapter, torch.nn.Linear)
    with pytest.raises(ValueError, match="equal input sizes"):
        SBNetHead(16, 8, 3, adapter="none")
    torch.manual_seed(0)
    head = SBNetHead(8, 8, 3).eval()
    x = torch.randn(4, 8)
    assert torch.equal(head.embed(x, "face"), head.embed(x, "voice"))  # one branch for both modalities
    out = head(face=x)
    assert set(out) == {"face", "face_logits"}
    both = head(face=x, voice=x[:2])
    assert both["face"].shape == (4, 128) and both["voice"].shape == (2, 128)


def test_paeff_ball_projection_norm_and_clip() -> None:
    c = 0.05
    u = F.normalize(torch.randn(5, 7, dtype=torch.float64), dim=1)
    x = to_poincare(u, c)
    assert torch.allclose(x.norm(dim=1), torch.full((5,), math.tanh(math.sqrt(c)) / math.sqrt(c), dtype=torch.float64))
    far = to_poincare(u * 100, c)
    assert torch.allclose(far.norm(dim=1), torch.full((5,), (1 - 1e-3) / math.sqrt(c), dtype=torch.float64))


COLD_PROCESS_CALLS = """
import torch
from facevoice.heads.paeff import to_poincare
torch.manual_seed(0)
u0 = torch.randn(16, 32)
outs = []
for _ in range(4):
    u = u0.clone().requires_grad_(True)
    x = to_poincare(u, 0.05)
    x.sin().sum().backward()
    outs.append((x.detach(), u.grad))
same = [torch.equal(outs[0][0], x) and torch.equal(outs[0][1], g) for x, g in outs[1:]]
print("same" if all(same) else f"differ {same}")
"""


def test_paeff_ball_map_gives_the_same_bits_in_a_cold_process() -> None:
    """geoopt's maths is TorchScript, whose executor changes path after warm-up calls: without care the
    first steps of a fresh process (a resumed run) compute other bits than the same steps in a warm one.
    A fresh interpreter, so no other test has warmed it up."""
    out = subprocess.run([sys.executable, "-c", COLD_PROCESS_CALLS], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "same"


@pytest.mark.parametrize("attention", ["mult", "add", "concat"])
@pytest.mark.parametrize("mix", ["activated", "raw"])
def test_paeff_egff_variants(attention: str, mix: str) -> None:
    torch.manual_seed(0)
    head = PAEFFHead(10, 6, 4, dim=16, attention=attention, mix=mix).eval()
    face, voice = torch.randn(3, 10), torch.randn(3, 6)
    out = head(face, voice)
    f, v = out["face"], out["voice"]
    ff, vf = F.gelu(f), F.gelu(v)
    g = {"mult": (ff * vf)[:, None], "add": (ff + vf)[:, None], "concat": torch.stack([ff, vf], 1)}[attention]
    a = torch.sigmoid(head.fusion_layer.conv(g)).squeeze(1)
    x = a * ff + (1 - a) * vf if mix == "activated" else a * f + (1 - a) * v
    assert torch.allclose(out["fused"], torch.tanh(head.res_mix(x)), atol=1e-6)
    assert torch.allclose(head.embed(face, "face"), ff)
    assert head.fusion_layer.conv.kernel_size == (5,) and head.fusion_layer.conv.padding == (2,)


def test_paeff_gated_baseline_uses_fop_fusion() -> None:
    head = PAEFFHead(10, 6, 4, dim=16, fusion="gated").eval()
    face = torch.randn(3, 10)
    assert not hasattr(head, "res_mix")
    assert torch.allclose(head.embed(face, "face"), torch.tanh(head.face_branch(face)))


def test_ssos_shared_classifier_and_reset() -> None:
    torch.manual_seed(0)
    head = SSoSHead(10, 6, 4, dim=8).eval()
    face, voice = torch.randn(3, 10), torch.randn(3, 6)
    out = head(face, voice)
    assert torch.allclose(out["face_logits"], out["face"] @ head.classifier.T)
    assert torch.allclose(out["voice_logits"], out["voice"] @ head.classifier.T)
    assert head.face_head[2].bias is None
    before = {k: v.clone() for k, v in head.state_dict().items()}
    head.reset_parameters()
    changed = [k for k, v in head.state_dict().items() if not torch.equal(v, before[k])]
    assert "classifier" in changed and "face_head.2.weight" in changed and "voice_head.2.weight" in changed


def test_contrastive_linear_projection_option() -> None:
    head = ContrastiveHead(10, 6, dim=8, hidden=0)
    assert isinstance(head.face_proj, torch.nn.Linear)
    assert torch.allclose(head.embed(torch.randn(3, 10), "face").norm(dim=1), torch.ones(3))
