"""One table of the transformers encoder families: what extraction, fine-tuning and budgets read.

Each :class:`HFFamily` entry says which transformers classes build the family, which
``config.model_type`` values mean it, how to preprocess when only a config is given, where the
LoRA-able linear layers sit inside one transformer layer, and which full-size architectures the
parameter budget knows without downloading. Everything else derives from :data:`FAMILIES`:

* the encoder registry (``facevoice.encoders.ENCODERS``): one entry per family, a voice family built
  by :class:`~facevoice.encoders.hf.audio.HFAudioEncoder`, a face family by
  :class:`~facevoice.encoders.hf.vision.HFVisionEncoder`;
* :func:`~facevoice.encoders.hf.common.load_backbone` and ``resolve_family`` (:data:`MODEL_TYPES`);
* the LoRA targets of ``facevoice.finetune.lora`` (:data:`LORA_LAYOUTS`, keyed by ``model_type``);
* the budget presets of ``facevoice.finetune.budget`` (``presets``, ``hub_presets`` and a
  ``tiny-<family>`` test model for every family).

Adding a family that fits the audio or the vision encoder is one entry here (its test coverage
comes from the tests that loop over this table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass(frozen=True)
class LoRALayout:
    """Where the LoRA-able linear layers sit in one family: ``layers`` is a regex of the transformer-layer
    container (e.g. ``r"encoder\\.layers"``), ``roles`` maps a role (q, k, v, o, ffn_in, ffn_out) to its
    path inside one layer."""

    layers: str
    roles: Mapping[str, str]


@dataclass(frozen=True)
class HFFamily:
    """One transformers encoder family (see the module docstring)."""

    name: str
    modality: str  # "voice" or "face"
    config_class: str  # transformers classes, by name (transformers is imported only when a model is built)
    model_class: str
    processor_class: str
    lora: LoRALayout
    model_types: tuple[str, ...] = ()  # other ``config.model_type`` values of this family (vision towers)
    # face families: image-processor options for an image size, used when only a config is given
    image_processor: Callable[[int], dict[str, Any]] | None = None
    cls_token: bool = True  # face families: the token sequence starts with a CLS token
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> config (budgets)
    hub_presets: Mapping[str, str] = field(default_factory=dict)  # hub name -> one of ``presets``


def _square(s: int) -> dict[str, Any]:
    return {"size": {"height": s, "width": s}}


def _shortest_edge_crop(s: int) -> dict[str, Any]:
    return {"size": {"shortest_edge": s}, "crop_size": {"height": s, "width": s}}


def _shortest_edge_crop_imagenet(s: int) -> dict[str, Any]:
    return {**_shortest_edge_crop(s), "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}


_W2V = LoRALayout(
    r"encoder\.layers",
    {
        "q": "attention.q_proj",
        "k": "attention.k_proj",
        "v": "attention.v_proj",
        "o": "attention.out_proj",
        "ffn_in": "feed_forward.intermediate_dense",
        "ffn_out": "feed_forward.output_dense",
    },
)
_VIT = LoRALayout(
    r"encoder\.layers",
    {
        "q": "self_attn.q_proj",
        "k": "self_attn.k_proj",
        "v": "self_attn.v_proj",
        "o": "self_attn.out_proj",
        "ffn_in": "mlp.fc1",
        "ffn_out": "mlp.fc2",
    },
)
_DINO = LoRALayout(
    r"encoder\.layer",
    {
        "q": "attention.q_proj",
        "k": "attention.k_proj",
        "v": "attention.v_proj",
        "o": "attention.o_proj",
        "ffn_in": "mlp.fc1",
        "ffn_out": "mlp.fc2",
    },
)

_SPEECH = "Wav2Vec2FeatureExtractor"  # the speech families share the wav2vec 2.0 feature extractor

FAMILIES: dict[str, HFFamily] = {
    f.name: f
    for f in (
        HFFamily(
            "wavlm",
            "voice",
            "WavLMConfig",
            "WavLMModel",
            _SPEECH,
            _W2V,
            presets={
                # WavLM-Large: layer-norm conv stack, stable layer norm
                "wavlm-large": dict(
                    hidden_size=1024,
                    num_hidden_layers=24,
                    num_attention_heads=16,
                    intermediate_size=4096,
                    feat_extract_norm="layer",
                    do_stable_layer_norm=True,
                    conv_bias=False,
                )
            },
            hub_presets={"microsoft/wavlm-large": "wavlm-large"},
        ),
        HFFamily("hubert", "voice", "HubertConfig", "HubertModel", _SPEECH, _W2V),
        HFFamily("wav2vec2", "voice", "Wav2Vec2Config", "Wav2Vec2Model", _SPEECH, _W2V),
        HFFamily(
            "siglip",
            "face",
            "SiglipVisionConfig",
            "SiglipVisionModel",
            "SiglipImageProcessor",
            _VIT,
            model_types=("siglip_vision_model",),
            image_processor=_square,
            cls_token=False,
            presets={
                # SigLIP ViT-B/16 vision tower, 224 px
                "siglip-b16": dict(
                    hidden_size=768,
                    num_hidden_layers=12,
                    num_attention_heads=12,
                    intermediate_size=3072,
                    image_size=224,
                    patch_size=16,
                )
            },
            hub_presets={"google/siglip-base-patch16-224": "siglip-b16"},
        ),
        HFFamily(
            "clip",
            "face",
            "CLIPVisionConfig",
            "CLIPVisionModel",
            "CLIPImageProcessor",
            _VIT,
            model_types=("clip_vision_model",),
            image_processor=_shortest_edge_crop,
        ),
        HFFamily(
            "dinov2",
            "face",
            "Dinov2Config",
            "Dinov2Model",
            "BitImageProcessor",
            _DINO,
            image_processor=_shortest_edge_crop_imagenet,
        ),
    )
}

#: transformers ``config.model_type`` -> family name
MODEL_TYPES: dict[str, str] = {t: f.name for f in FAMILIES.values() for t in (f.name, *f.model_types)}

#: transformers ``config.model_type`` -> where LoRA goes in that model
LORA_LAYOUTS: dict[str, LoRALayout] = {t: FAMILIES[name].lora for t, name in MODEL_TYPES.items()}


def families_of(modality: str) -> list[HFFamily]:
    """The families of one modality (``"voice"`` or ``"face"``), in table order."""
    return [f for f in FAMILIES.values() if f.modality == modality]
