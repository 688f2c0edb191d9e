"""Parameter budgets: trainable parameters of a LoRA setting and their share of the encoders.

:func:`dry_run` builds the real architectures from their configs on the ``meta`` device (no
weights, no memory, no download) and applies LoRA exactly as training does, so a user can plan
a setting before touching a GPU. Presets give the paper's encoders:

* ``wavlm-large``: hidden 1024, 24 layers, 16 heads, FFN 4096 (layer-norm conv stack, stable layer norm);
* ``siglip-b16``: SigLIP ViT-B/16 vision tower, hidden 768, 12 layers, 12 heads, FFN 3072, 224 px, patch 16.

With both, LoRA rank 8 on every linear layer of the SigLIP transformer (``targets: all`` = q, k, v,
out, fc1, fc2; face only) gives 1,327,104 parameters = 0.325% of the two encoders (408.3M): the
paper's "1.33M (0.32%)".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facevoice.encoders.hf.common import resolve_family, tiny_config
from facevoice.encoders.hf.families import FAMILIES
from facevoice.finetune.lora import apply_lora
from facevoice.finetune.model import SETTINGS, lora_options

#: named architectures the dry run builds: every family's full-size presets (family table) and a
#: ``tiny-<family>`` test model per family (randomly initialised, milliseconds on a CPU)
PRESETS: dict[str, dict[str, Any]] = {
    **{name: {"family": f.name, **cfg} for f in FAMILIES.values() for name, cfg in f.presets.items()},
    **{f"tiny-{f.name}": tiny_config(f.name) for f in FAMILIES.values()},
}


def count(params: Any) -> int:
    return int(sum(p.numel() for p in params))


def encoder_counts(model: nn.Module) -> dict[str, int]:
    """``{"base": encoder parameters without LoRA, "lora": LoRA parameters}`` of one (peft-wrapped) encoder."""
    named = list(model.named_parameters())
    return {"base": count(p for n, p in named if "lora_" not in n), "lora": count(p for n, p in named if "lora_" in n)}


def parameter_report(model: Any) -> dict[str, Any]:
    """Trainable parameters of a :class:`~facevoice.finetune.model.DualEncoder` and their shares.

    ``lora_share`` = LoRA parameters / the two encoders' (non-LoRA) parameters, as the paper reports;
    ``trainable_share`` counts the heads and the temperature too.
    """
    v, f = encoder_counts(model.voice.model), encoder_counts(model.face.model)
    heads = count(model.voice_head.parameters()) + count(model.face_head.parameters())
    temp = count(p for p in model.loss.parameters() if p.requires_grad)
    total_enc = v["base"] + f["base"]
    trainable = count(p for p in model.parameters() if p.requires_grad)
    lora = v["lora"] + f["lora"]
    return {
        "voice_encoder": v["base"],
        "face_encoder": f["base"],
        "encoders_total": total_enc,
        "lora_voice": v["lora"],
        "lora_face": f["lora"],
        "lora_total": lora,
        "heads": heads,
        "temperature": temp,
        "trainable": trainable,
        "lora_share": lora / total_enc,
        "trainable_share": trainable / total_enc,
    }


#: hub names whose architecture is a preset here (the dry run never downloads)
HUB_PRESETS: dict[str, str] = {hub: name for f in FAMILIES.values() for hub, name in f.hub_presets.items()}


def meta_backbone(spec: str | Mapping[str, Any]) -> nn.Module:
    """A transformers model built on the meta device (no weights) from a preset name, a known hub
    name (:data:`HUB_PRESETS`), a local checkpoint folder (its ``config.json``) or a config dict ``{family, ...}``."""
    import transformers

    if isinstance(spec, str):
        spec = HUB_PRESETS.get(spec, spec)
        if spec in PRESETS:
            spec = PRESETS[spec]
        elif Path(spec).expanduser().is_dir():
            config = transformers.AutoConfig.from_pretrained(str(Path(spec).expanduser()))
            config = getattr(config, "vision_config", config)  # full SigLIP / CLIP checkpoints: the vision tower
            spec = {"family": config.model_type, **config.to_diff_dict()}
        else:
            raise ValueError(
                f"cannot build {spec!r} without downloading: use a preset ({sorted(PRESETS)}), a local folder "
                "or a config dict"
            )
    kw = copy.deepcopy(dict(spec))
    fam = resolve_family(kw)
    for key in ("family", "model_type", "processor", "seed", "transformers_version", "architectures"):
        kw.pop(key, None)
    config = getattr(transformers, FAMILIES[fam].config_class)(**kw)
    with torch.device("meta"):
        return getattr(transformers, FAMILIES[fam].model_class)(config)


def dry_run(
    voice: str | Mapping[str, Any] = "wavlm-large",
    face: str | Mapping[str, Any] = "siglip-b16",
    lora: Mapping[str, Any] | None = None,
    settings: Sequence[str] = ("none", "face", "voice", "both"),
    embed_dim: int = 256,
    head_hidden: int | None = 512,
    learnable_temperature: bool = True,
) -> list[dict[str, Any]]:
    """Budget of each LoRA ``setting`` for the given architectures (built without weights).

    ``lora``: ``{rank, alpha, dropout, targets, layers}`` with optional ``face`` / ``voice`` overrides.
    Returns one row per setting: encoder sizes, LoRA parameters per encoder, heads, shares.
    """

    lora = dict(lora or {"rank": 8, "alpha": 16, "targets": "all"})
    lora.pop("setting", None)
    base = {"voice": meta_backbone(voice), "face": meta_backbone(face)}
    size = {m: count(b.parameters()) for m, b in base.items()}
    hidden = {m: int(b.config.hidden_size) for m, b in base.items()}
    heads = sum(_head_params(hidden[m], embed_dim, head_hidden) for m in base)
    temp = int(bool(learnable_temperature))
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown LoRA setting(s) {unknown}; valid: {SETTINGS}")
    per_encoder = {
        m: encoder_counts(apply_lora(base[m], **lora_options(lora, m)))["lora"]
        for m in ("voice", "face")
        if any(s in (m, "both") for s in settings)
    }
    rows = []
    for setting in settings:
        n_lora = {m: per_encoder[m] if setting in (m, "both") else 0 for m in ("voice", "face")}
        total = size["voice"] + size["face"]
        lora_total = n_lora["voice"] + n_lora["face"]
        rows.append(
            {
                "setting": setting,
                "voice_encoder": size["voice"],
                "face_encoder": size["face"],
                "lora_voice": n_lora["voice"],
                "lora_face": n_lora["face"],
                "lora_total": lora_total,
                "lora_share": lora_total / total,
                "heads": heads,
                "trainable": lora_total + heads + temp,
                "trainable_share": (lora_total + heads + temp) / total,
            }
        )
    return rows


def _head_params(d_in: int, d_out: int, hidden: int | None) -> int:
    if hidden:
        return d_in * hidden + hidden + hidden * d_out + d_out
    return d_in * d_out + d_out
