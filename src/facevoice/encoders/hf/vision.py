"""transformers image encoders (SigLIP, CLIP, DINOv2 vision towers) as frozen face encoders.

Reusable functions (gradients flow through them): :func:`prepare_images` (RGB arrays →
``pixel_values``), :func:`vision_forward` (all hidden states), :func:`pool_tokens` (pooler / CLS /
mean over patch tokens). :class:`HFVisionEncoder` adds file loading (images or video frames, with
optional face detection and cropping) and layer selection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from facevoice.core.types import LoadedItem
from facevoice.data.media.faces import face_crop
from facevoice.data.media.io import load_visual
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput
from facevoice.encoders.hf.common import (
    BackboneEncoderMixin,
    HFBackbone,
    family_factory,
    load_backbone,
    stack_hidden,
)
from facevoice.encoders.hf.common import weights_hash as module_hash
from facevoice.encoders.hf.families import FAMILIES, families_of

POOLINGS = ("pooler", "cls", "mean")


def prefix_tokens(family: str, config: Any) -> int:
    """Number of non-patch tokens at the start of the sequence (CLS, registers)."""
    if not FAMILIES[family].cls_token:
        return 0
    return 1 + int(getattr(config, "num_register_tokens", 0) or 0)


def prepare_images(processor: Any, images: list[np.ndarray]) -> torch.Tensor:
    """RGB ``uint8`` arrays ``B × (H, W, 3)`` → ``pixel_values (B, 3, S, S)``."""
    from PIL import Image

    pil = [Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB") for im in images]
    return processor(images=pil, return_tensors="pt")["pixel_values"]


def vision_forward(model: torch.nn.Module, pixel_values: torch.Tensor) -> Any:
    """Forward with ``output_hidden_states``: ``.hidden_states`` is ``L × (B, T, D)``, ``.pooler_output`` ``(B, D)``."""
    return model(pixel_values=pixel_values, output_hidden_states=True)


def pool_tokens(hidden: torch.Tensor, pooling: str, n_prefix: int) -> torch.Tensor:
    """Token states ``(..., T, D)`` → ``(..., D)``: ``"cls"`` = first token, ``"mean"`` = mean of patch tokens."""
    if pooling == "cls":
        if n_prefix == 0:
            raise ValueError("this model has no CLS token; use pooling 'pooler' or 'mean'")
        return hidden[..., 0, :]
    if pooling == "mean":
        return hidden[..., n_prefix:, :].mean(dim=-2)
    raise ValueError(f"token pooling must be 'cls' or 'mean', got {pooling!r}")


@ENCODERS.register("hf-vision")
class HFVisionEncoder(BackboneEncoderMixin, Encoder):
    """Frozen transformers vision tower.

    ``pooling``: ``"pooler"`` (the model's pooled output; last layer only), ``"cls"`` or ``"mean"``.
    ``layer``: None (last hidden state) or an index into the hidden states (0 = patch embeddings).
    Per-layer outputs pool each hidden state with CLS (``pooling="cls"``) or the patch mean (otherwise).
    ``detect_faces``: crop the largest face (dlib HOG) before the processor (default); ``fallback="whole"``
    uses the whole image when none is found (recorded per item), ``"skip"`` records a ``no_face`` skip.
    Use ``detect_faces=False`` for datasets of tight face crops that the detector may miss.
    """

    modality = "face"
    takes_source = True
    OPTIONS = {
        "pooling": "pooler, cls or mean (default pooler)",
        "layer": "hidden-state index (default: last)",
        "dtype": "float32, float16 or bfloat16",
        "detect_faces": "true (crop the largest face, default) or false (tight crops: whole image)",
        "upsample": "HOG detector upsampling: auto or 0-3",
        "margin": "context around the detected face (default 0.25)",
        "fallback": "skip or whole, when no face is found (default skip)",
        "video_frames": "frames sampled from a video (default 4)",
    }

    def __init__(
        self,
        source: str | Path | dict[str, Any],
        family: str | None = None,
        *,
        pooling: str = "pooler",
        layer: int | None = None,
        device: str = "cpu",
        dtype: str | None = None,
        detect_faces: bool = True,
        upsample: int | str = "auto",
        margin: float = 0.25,
        fallback: str = "skip",
        video_frames: int = 4,
    ) -> None:
        self.backbone: HFBackbone = load_backbone(source, family, device=device, dtype=dtype)
        if self.backbone.modality != "face":
            raise ValueError(f"{self.backbone.family} is a voice model; use HFAudioEncoder")
        self.name = self.backbone.family
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.n_prefix = prefix_tokens(self.name, self.backbone.config)
        if pooling == "cls" and self.n_prefix == 0:
            raise ValueError(f"{self.name} has no CLS token; use pooling 'pooler' or 'mean'")
        if pooling == "pooler" and layer is not None:
            raise ValueError("pooling 'pooler' is defined on the last layer only; use 'cls' or 'mean' with layer")
        n_states = self.backbone.num_hidden_states
        if layer is not None and not -n_states <= layer < n_states:
            raise ValueError(f"layer {layer} out of range: the model has {n_states} hidden states")
        if fallback not in ("skip", "whole"):
            raise ValueError(f"fallback must be 'skip' or 'whole', got {fallback!r}")
        self.pooling, self.layer = pooling, layer
        self.detect, self.upsample, self.margin, self.fallback = detect_faces, upsample, margin, fallback
        self.video_frames = int(video_frames)
        self._hash = module_hash(self.backbone.model)

    def options(self) -> dict[str, Any]:
        det = f"hog:up={self.upsample}:margin={self.margin:g}:fallback={self.fallback}" if self.detect else "none"
        return {
            "source": self.backbone.source,
            "pool": self.pooling,
            "layer": "last" if self.layer is None else self.layer,
            "faces": det,
            "video_frames": self.video_frames,
        }

    def load(self, path: str | Path) -> LoadedItem:
        """Image (or sampled video frames) → ``LoadedItem(parts=[RGB (H, W, 3), ...])``, face-cropped if asked."""

        frames = load_visual(path, self.video_frames)
        if not self.detect:
            return LoadedItem(frames, {"frames": len(frames)} if len(frames) > 1 else {})
        return face_crop(frames, upsample=self.upsample, margin=self.margin, fallback=self.fallback)

    def encode(self, inputs: list[np.ndarray], layers: bool = False) -> EncoderOutput:
        """``B`` RGB images → embeddings ``(B, D)`` and per-layer pooled states ``(L, B, D)``."""
        if not inputs:
            return EncoderOutput(np.zeros((0, self.dim), np.float32), None)
        model = self.backbone.model
        p = next(model.parameters())
        pixels = prepare_images(self.backbone.processor, inputs).to(p.device, p.dtype)
        layer_pool = "cls" if self.pooling == "cls" else "mean"
        with torch.inference_mode():
            out = vision_forward(model, pixels)
            if self.pooling == "pooler":
                emb = out.pooler_output
            else:
                hid = out.last_hidden_state if self.layer is None else out.hidden_states[self.layer]
                emb = pool_tokens(hid, self.pooling, self.n_prefix)
            lay = pool_tokens(stack_hidden(out.hidden_states), layer_pool, self.n_prefix) if layers else None
        return EncoderOutput(emb.float().cpu().numpy(), None if lay is None else lay.float().cpu().numpy())


# one registry entry per face family of the table (``wavlm``, ...), beside the class that builds them
for _family in families_of("face"):
    ENCODERS.register(_family.name, family_factory(HFVisionEncoder, _family.name))
