"""LoRA on every supported encoder family: every LoRA weight trains, nothing frozen does."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from facevoice.encoders.hf.common import load_backbone, tiny_config
from facevoice.encoders.hf.families import FAMILIES, LORA_LAYOUTS, families_of
from facevoice.finetune.lora import (
    apply_lora,
    lora_parameters,
    missing_lora_gradients,
    route_wavlm_attention,
    target_regex,
)

# every family of the table, as a tiny randomly initialised model
AUDIO = {f.name: tiny_config(f.name) for f in families_of("voice")}
VISION = {f.name: tiny_config(f.name) for f in families_of("face")}


def _inputs(model: torch.nn.Module, audio: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    if audio:
        mask = torch.ones(3, 1600, dtype=torch.long)
        mask[1, 1100:] = 0
        mask[2, 600:] = 0
        return {"input_values": torch.randn(3, 1600, generator=g), "attention_mask": mask}
    return {"pixel_values": torch.randn(3, 3, 32, 32, generator=g)}


@pytest.mark.parametrize("family", [*AUDIO, *VISION])
def test_every_lora_parameter_gets_a_gradient_and_no_frozen_one(family: str) -> None:
    audio = family in AUDIO
    model = load_backbone((AUDIO if audio else VISION)[family]).model
    peft_model = apply_lora(model, rank=2, alpha=4, targets="all")
    lora = lora_parameters(peft_model)
    assert len(lora) == 2 * 6 * 2  # (A, B) x six linear layers x two transformer layers
    for name, p in lora.items():
        if "lora_B" in name:  # B starts at zero, which would zero A's gradient
            torch.nn.init.normal_(p, std=0.1)
    peft_model.train()
    out = peft_model(**_inputs(model, audio)).last_hidden_state
    out.pow(2).mean().backward()
    assert missing_lora_gradients(peft_model) == []
    for name, p in lora.items():
        assert p.grad.abs().sum() > 0, f"{family}: zero gradient on {name}"
    frozen_with_grad = [n for n, p in peft_model.named_parameters() if not p.requires_grad and p.grad is not None]
    assert frozen_with_grad == []
    assert all(p.requires_grad == ("lora_" in n) for n, p in peft_model.named_parameters())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_family_table_names_the_model_types_its_models_report(family: str) -> None:
    """A built model's ``config.model_type`` has a LoRA layout, and every role path exists in every layer."""
    model = load_backbone(tiny_config(family)).model
    layout = LORA_LAYOUTS[model.config.model_type]
    names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    for role, path in layout.roles.items():
        hits = [n for n in names if re.fullmatch(rf"(?:.*\.)?{layout.layers}\.\d+\.{re.escape(path)}", n)]
        assert len(hits) == model.config.num_hidden_layers, f"{family}: role {role} ({path}) found in {hits}"


def test_wavlm_attention_needs_the_fix() -> None:
    """transformers' WavLM attention reads raw q/k/v weights: LoRA there gets no gradient without the fix."""
    from peft import LoraConfig, get_peft_model

    model = load_backbone(AUDIO["wavlm"]).model
    plain = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    x = torch.randn(2, 1600, requires_grad=True)
    plain(input_values=x).last_hidden_state.sum().backward()
    assert len(missing_lora_gradients(plain)) == len(lora_parameters(plain)), (
        "transformers now routes WavLM attention through the projection modules; route_wavlm_attention "
        "may no longer be needed"
    )
    fixed = apply_lora(copy.deepcopy(model), rank=2, targets="qv")
    fixed(input_values=x).last_hidden_state.sum().backward()
    assert missing_lora_gradients(fixed) == []


@pytest.mark.parametrize("stable", [False, True])
def test_routed_wavlm_attention_matches_the_original(stable: bool) -> None:
    cfg = {**AUDIO["wavlm"], "do_stable_layer_norm": stable, "feat_extract_norm": "layer" if stable else "group"}
    model = load_backbone(cfg).model
    routed = copy.deepcopy(model)
    assert route_wavlm_attention(routed) == 2
    inputs = _inputs(model, audio=True)
    with torch.no_grad():
        ref = model(**inputs, output_hidden_states=True, output_attentions=True)
        got = routed(**inputs, output_hidden_states=True, output_attentions=True)
    for a, b in zip(ref.hidden_states, got.hidden_states, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(ref.attentions, got.attentions, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_targets_stay_inside_the_transformer_layers() -> None:
    model = load_backbone(VISION["siglip"]).model  # has an attention-pooling head with its own out_proj / mlp
    peft_model = apply_lora(model, rank=2, targets="all", layers=[1])
    wrapped = {n.split(".lora_")[0] for n in lora_parameters(peft_model)}
    assert wrapped and all(".encoder.layers.1." in n for n in wrapped)
    assert not any(".head." in n for n in wrapped)
    assert target_regex("wavlm", ["q", "feed_forward.output_dense"]).endswith(
        r"(?:attention\.q_proj|(?:.*\.)?feed_forward\.output_dense)"
    )


def test_bad_lora_options_raise() -> None:
    model = load_backbone(VISION["clip"]).model
    with pytest.raises(ValueError, match="preset"):
        apply_lora(model, targets="everything")
    with pytest.raises(ValueError, match="match no linear layer"):
        apply_lora(model, targets=["not_a_module"])
    with pytest.raises(ValueError, match="rank"):
        apply_lora(model, rank=0)
    with pytest.raises(ValueError, match="model_type"):
        apply_lora(torch.nn.Linear(2, 2))
