"""Building transformers backbones (hub name, local path or config dict), weight hashes, pooling.

Reusable pieces for frozen extraction (``hf_audio``/``hf_vision``) and for fine-tuning:

* :func:`load_backbone` → :class:`HFBackbone` (``.model`` is the plain ``nn.Module``, ``.processor``
  the matching feature extractor / image processor);
* :func:`weights_hash` (sha256 of a module's state dict);
* :func:`masked_mean`, :func:`weighted_layer_sum`, :func:`stack_hidden` (pooling over valid frames).

No function here wraps the forward pass in ``no_grad``: gradients flow when the caller wants them.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from facevoice.encoders.hf.families import FAMILIES, MODEL_TYPES

log = logging.getLogger(__name__)


@dataclass
class HFBackbone:
    """A transformers model with its preprocessor. ``model`` is the underlying ``nn.Module``."""

    model: torch.nn.Module
    processor: Any
    family: str
    modality: str
    source: str

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_hidden_states(self) -> int:
        """Number of entries of ``output_hidden_states``: embedding output + one per layer."""
        return int(self.model.config.num_hidden_layers) + 1


class BackboneEncoderMixin:
    """Properties shared by the encoders that wrap an :class:`HFBackbone` (``self.backbone``, ``self._hash``)."""

    backbone: HFBackbone
    _hash: str

    @property
    def model(self) -> torch.nn.Module:
        return self.backbone.model

    @property
    def dim(self) -> int:
        return self.backbone.hidden_size

    @property
    def num_layers(self) -> int:
        return self.backbone.num_hidden_states

    @property
    def weights_hash(self) -> str:
        return self._hash


def _tf_class(name: str) -> Any:
    import transformers

    return getattr(transformers, name)


def _processor_class(name: str) -> Any:
    """The PIL-backed image processor when torchvision is absent (avoids a fallback warning)."""
    import importlib.util

    import transformers

    if name.endswith("ImageProcessor") and importlib.util.find_spec("torchvision") is None:
        pil = getattr(transformers, name + "Pil", None)
        if pil is not None:
            return pil
    return getattr(transformers, name)


def default_processor(family: str, config: Any, overrides: dict[str, Any] | None = None) -> Any:
    """The preprocessor a family uses when only a config is given (hub checkpoints bring their own)."""
    fam = FAMILIES[family]
    cls = _processor_class(fam.processor_class)
    kw: dict[str, Any]
    if fam.modality == "voice":
        kw = dict(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True)
    else:
        kw = fam.image_processor(int(config.image_size)) if fam.image_processor else {}
    kw.update(overrides or {})
    return cls(**kw)


def resolve_family(source: str | Path | dict[str, Any], family: str | None = None) -> str:
    """Family of a source: explicit, ``source["family"]``/``source["model_type"]``, or the hub config."""
    if family is None:
        if isinstance(source, dict):
            family = source.get("family") or source.get("model_type")
        else:
            family = str(_tf_class("AutoConfig").from_pretrained(str(source)).model_type)
    fam = MODEL_TYPES.get(str(family).lower(), str(family).lower())
    if fam not in FAMILIES:
        raise ValueError(f"unsupported transformers family {family!r}; supported: {', '.join(FAMILIES)}")
    return fam


def load_backbone(
    source: str | Path | dict[str, Any],
    family: str | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
) -> HFBackbone:
    """Build a transformers backbone in eval mode.

    ``source`` is a hub name (``"microsoft/wavlm-base-plus"``), a local directory saved with
    ``save_pretrained``, or a config dict such as ``{"family": "wavlm", "hidden_size": 32, ...}``
    (randomly initialised under ``seed``, default 0; an optional ``"processor"`` dict overrides the
    default preprocessor). Vision sources may be full SigLIP/CLIP checkpoints: only the vision tower
    is loaded.
    """
    if not isinstance(source, dict) and Path(str(source)).expanduser().exists():
        source = str(Path(str(source)).expanduser().resolve())  # a local folder saved with save_pretrained
    fam = resolve_family(source, family)
    modality, cfg_name = FAMILIES[fam].modality, FAMILIES[fam].config_class
    model_cls = _tf_class(FAMILIES[fam].model_class)
    if isinstance(source, dict):
        kw = copy.deepcopy(source)
        for key in ("family", "model_type"):
            kw.pop(key, None)
        proc_over = kw.pop("processor", None)
        seed = int(kw.pop("seed", 0))
        config = _tf_class(cfg_name)(**kw)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_cls(config)
        processor = default_processor(fam, config, proc_over)
        desc = "config-" + hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()[:8]
    else:
        name = str(source)
        model = model_cls.from_pretrained(name)
        processor = _load_processor(fam, name, model.config)
        desc = str(source)
    model.eval()
    if dtype is not None:
        model.to(getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    model.to(resolve_device(device))
    return HFBackbone(model=model, processor=processor, family=fam, modality=modality, source=desc)


def _load_processor(family: str, name: str, config: Any) -> Any:
    voice = FAMILIES[family].modality == "voice"
    auto = "AutoFeatureExtractor" if voice else "AutoImageProcessor"
    try:
        return _tf_class(auto).from_pretrained(name)
    except (OSError, ValueError) as err:
        if voice:
            log.warning("no feature extractor saved with %s (%s); using the 16 kHz wav2vec2 default", name, err)
            return default_processor(family, config)
        raise ValueError(f"no image processor found for {name}: {err}") from err


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``'auto'`` → CUDA when available, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def weights_hash(module: torch.nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes and raw bytes, in sorted key order)."""
    h = hashlib.sha256()
    for key, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over valid positions: ``hidden (B, T, D)``, ``mask (B, T)`` (1 = valid) → ``(B, D)``.

    Works on stacked layers too: ``(L, B, T, D)`` with ``mask (B, T)`` → ``(L, B, D)``.
    """
    if mask is None:
        return hidden.mean(dim=-2)
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(dim=-2) / m.sum(dim=-2).clamp_min(1.0)


def stack_hidden(hidden_states: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """Hidden states of every layer ``L × (B, T, D)`` → ``(L, B, T, D)``."""
    return torch.stack(list(hidden_states), dim=0)


def weighted_layer_sum(
    hidden_states: tuple[torch.Tensor, ...] | list[torch.Tensor], weights: Any = None
) -> torch.Tensor:
    """Weighted sum of layers ``L × (B, T, D)`` → ``(B, T, D)``; weights ``(L,)`` are normalised to
    sum 1 (uniform when None)."""
    stacked = stack_hidden(hidden_states)
    n = stacked.shape[0]
    w = torch.ones(n) if weights is None else torch.as_tensor(weights, dtype=torch.float32).flatten()
    if w.numel() != n:
        raise ValueError(f"layer weights have {w.numel()} entries, the model has {n} hidden states")
    if float(w.sum()) == 0.0:
        raise ValueError("layer weights sum to zero")
    w = (w / w.sum()).to(device=stacked.device, dtype=stacked.dtype)
    return torch.einsum("l,lbtd->btd", w, stacked)


_TINY_AUDIO = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(32, 32, 32),
    conv_stride=(5, 2, 2),
    conv_kernel=(10, 3, 3),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    mask_time_prob=0.0,  # no SpecAugment masking (it would make outputs random)
    layerdrop=0.0,
)
_TINY_VISION = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8
)


def tiny_config(family: str, seed: int = 0, **overrides: Any) -> dict[str, Any]:
    """A config dict for a tiny randomly initialised model of ``family`` (tests, examples, benchmarks).

    Speech families default to group norm in the first conv layer (as the base checkpoints); pass
    ``feat_extract_norm="layer", do_stable_layer_norm=True`` for the large-checkpoint variant.
    """
    fam = resolve_family({"family": family})
    base = _TINY_AUDIO if FAMILIES[fam].modality == "voice" else _TINY_VISION
    return {**base, "family": fam, "seed": seed, **overrides}


def family_factory(cls: type, family: str) -> Any:
    """``make_<family>(source, **kwargs) -> cls(source, family, **kwargs)``, the registry entry of one model family.

    It takes ``cls``'s keyword arguments (so unknown options are refused by name) and its ``takes_source``.
    """

    def make(source: str | Path | dict[str, Any], **kwargs: Any) -> Any:
        return cls(source, family, **kwargs)

    make.__name__ = f"make_{family}"
    make.__doc__ = f"{family} {FAMILIES[family].modality} encoder: ``source`` = hub name, local path or config dict."
    params = [p for name, p in inspect.signature(cls).parameters.items() if name != "family"]
    make.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    make.takes_source = getattr(cls, "takes_source", True)  # type: ignore[attr-defined]
    make.OPTIONS = getattr(cls, "OPTIONS", None)  # the family's --opt names (encoders.base.check_options)
    return make
