"""transformers speech encoders (WavLM, HuBERT, wav2vec 2.0) as frozen voice encoders.

Reusable functions (gradients flow through them; fine-tuning code uses them directly):
:func:`prepare_audio` (waveforms → padded ``input_values`` + sample mask), :func:`audio_forward`
(all hidden states + frame mask), :func:`frame_lengths`. :class:`HFAudioEncoder` adds file loading,
masked mean pooling over valid frames and layer selection (one layer, or a weighted sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facevoice.core.types import LoadedItem, SkipItem
from facevoice.data.media.io import load_audio
from facevoice.data.media.speech import check_speech
from facevoice.encoders.base import ENCODERS, Encoder, EncoderOutput
from facevoice.encoders.hf.common import (
    BackboneEncoderMixin,
    HFBackbone,
    family_factory,
    load_backbone,
    masked_mean,
    stack_hidden,
    weighted_layer_sum,
)
from facevoice.encoders.hf.common import weights_hash as module_hash
from facevoice.encoders.hf.families import families_of


@dataclass
class AudioForward:
    """``hidden_states``: ``L × (B, T, D)`` (embedding output first); ``frame_mask``: ``(B, T)`` bool."""

    hidden_states: tuple[torch.Tensor, ...]
    frame_mask: torch.Tensor


def frame_lengths(model: torch.nn.Module, sample_lengths: torch.Tensor) -> torch.Tensor:
    """Number of encoder frames whose receptive field lies inside the first ``n`` samples: ``(B,)`` → ``(B,)``."""
    fn = getattr(model, "_get_feat_extract_output_lengths", None)
    if fn is not None:
        return fn(sample_lengths).long()
    cfg = model.config
    n = sample_lengths.long()
    for k, s in zip(cfg.conv_kernel, cfg.conv_stride, strict=True):
        n = torch.div(n - k, s, rounding_mode="floor") + 1
    return n.clamp_min(0)


def min_samples(config: Any) -> int:
    """Shortest input (samples) giving one output frame of the convolutional feature encoder."""
    n = 1
    for k, s in zip(reversed(config.conv_kernel), reversed(config.conv_stride), strict=True):
        n = (n - 1) * s + k
    return int(n)


def padding_sensitive(config: Any) -> bool:
    """True when padding changes valid frames (group norm over time in the first conv layer)."""
    return str(getattr(config, "feat_extract_norm", "layer")) == "group"


def prepare_audio(processor: Any, waves: list[np.ndarray], sample_rate: int) -> dict[str, torch.Tensor]:
    """Waveforms ``B × (S_i,)`` → ``{"input_values": (B, S), "attention_mask": (B, S)}`` (zero padded,
    each item normalised over its own samples when the processor normalises)."""
    out = processor(
        [np.asarray(w, dtype=np.float32) for w in waves],
        sampling_rate=sample_rate,
        padding=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    return {"input_values": out["input_values"], "attention_mask": out["attention_mask"].long()}


def audio_forward(model: torch.nn.Module, input_values: torch.Tensor, attention_mask: torch.Tensor) -> AudioForward:
    """Run the model with all hidden states: ``(B, S)`` samples → ``AudioForward`` (``T`` frames)."""
    out = model(input_values=input_values, attention_mask=attention_mask, output_hidden_states=True)
    hidden = tuple(out.hidden_states)
    n = frame_lengths(model, attention_mask.sum(-1))
    t = hidden[-1].shape[1]
    mask = torch.arange(t, device=hidden[-1].device)[None, :] < n.to(hidden[-1].device)[:, None]
    return AudioForward(hidden_states=hidden, frame_mask=mask)


@ENCODERS.register("hf-audio")
class HFAudioEncoder(BackboneEncoderMixin, Encoder):
    """Frozen transformers speech encoder with masked mean pooling.

    ``layer``: None (last layer), an index into the hidden states (0 = CNN/embedding output), or
    ``"weighted"`` (sum of all hidden states with ``layer_weights``, uniform by default).
    Items with no signal (peak below -80 dBFS) are skipped as silent, whatever their level otherwise;
    ``min_voiced_seconds``: also require that much voiced speech (level-independent VAD,
    :mod:`facevoice.data.media.speech`; 0 = off, the default: these models embed any audio, and the
    test media of fine-tuning are tones); ``silence_db``: an optional fixed RMS gate in dBFS (off by
    default: it rejects quiet real speech).
    ``max_seconds``: keep only the first ``max_seconds`` of long recordings (None = all).
    """

    modality = "voice"
    takes_source = True
    OPTIONS = {
        "layer": "hidden-state index, or 'weighted' (default: last)",
        "layer_weights": "[w0, w1, ...] for layer=weighted",
        "dtype": "float32, float16 or bfloat16",
        "max_seconds": "keep the first seconds of long files (default: all)",
        "min_voiced_seconds": "seconds of speech the VAD must find (default 0: off)",
        "silence_db": "optional fixed RMS gate in dBFS (default off)",
    }

    def __init__(
        self,
        source: str | Path | dict[str, Any],
        family: str | None = None,
        *,
        layer: int | str | None = None,
        layer_weights: list[float] | None = None,
        device: str = "cpu",
        dtype: str | None = None,
        silence_db: float | None = None,
        max_seconds: float | None = None,
        min_voiced_seconds: float = 0.0,
    ) -> None:
        self.backbone: HFBackbone = load_backbone(source, family, device=device, dtype=dtype)
        if self.backbone.modality != "voice":
            raise ValueError(f"{self.backbone.family} is a face model; use HFVisionEncoder")
        self.name = self.backbone.family
        self.sample_rate = int(getattr(self.backbone.processor, "sampling_rate", 16000))
        n_states = self.backbone.num_hidden_states
        if isinstance(layer, int) and not -n_states <= layer < n_states:
            raise ValueError(f"layer {layer} out of range: the model has {n_states} hidden states")
        if isinstance(layer, str) and layer != "weighted":
            raise ValueError(f"layer must be an int, None or 'weighted', got {layer!r}")
        self.layer, self.layer_weights = layer, layer_weights
        if layer == "weighted":
            weighted_layer_sum([torch.zeros(1, 1, 1)] * n_states, layer_weights)  # validates the weights
        self.silence_db, self.max_seconds = silence_db, max_seconds
        self.min_voiced_seconds = float(min_voiced_seconds)
        self._hash = module_hash(self.backbone.model)
        self._min_samples = min_samples(self.backbone.config)

    def options(self) -> dict[str, Any]:
        lw = None if self.layer_weights is None else "/".join(f"{w:g}" for w in self.layer_weights)
        return {
            "source": self.backbone.source,
            "layer": "last" if self.layer is None else self.layer,
            "layer_weights": lw,
            "pool": "masked_mean",
            "sr": self.sample_rate,
            "max_seconds": self.max_seconds,
        }

    def load(self, path: str | Path) -> LoadedItem:
        """Read audio (mono, resampled) → ``LoadedItem([wave (S,)])``; skips empty, short and silent items."""

        wave = load_audio(path, self.sample_rate)
        if self.max_seconds is not None:
            wave = wave[: int(round(self.max_seconds * self.sample_rate))]
        if wave.size < self._min_samples:
            raise SkipItem("too_short", f"{wave.size} samples at {self.sample_rate} Hz < {self._min_samples}")
        notes = check_speech(
            wave, self.sample_rate, min_voiced_seconds=self.min_voiced_seconds, silence_db=self.silence_db
        )
        return LoadedItem([wave], notes)

    def encode(self, inputs: list[np.ndarray], layers: bool = False) -> EncoderOutput:
        """``B`` waveforms → embeddings ``(B, D)`` and per-layer pooled states ``(L, B, D)``.

        Padding never changes an item's embedding: frames past an item's end are masked out, and
        models whose first conv layer normalises over time are run on equal-length groups only.
        """
        if not inputs:
            return EncoderOutput(np.zeros((0, self.dim), np.float32), None)
        if padding_sensitive(self.backbone.config):
            groups: dict[int, list[int]] = {}
            for i, w in enumerate(inputs):
                groups.setdefault(len(w), []).append(i)
            order = [idx for g in groups.values() for idx in g]
            parts = [self._encode_batch([inputs[i] for i in g], layers) for g in groups.values()]
            emb = np.concatenate([p[0] for p in parts])
            lay = np.concatenate([p[1] for p in parts], axis=1) if layers else None
            inv = np.argsort(order)
            return EncoderOutput(emb[inv], None if lay is None else lay[:, inv])
        emb, lay = self._encode_batch(inputs, layers)
        return EncoderOutput(emb, lay)

    def _encode_batch(self, waves: list[np.ndarray], layers: bool) -> tuple[np.ndarray, np.ndarray | None]:
        model = self.backbone.model
        dev = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        batch = prepare_audio(self.backbone.processor, waves, self.sample_rate)
        with torch.inference_mode():
            fwd = audio_forward(model, batch["input_values"].to(dev, dtype), batch["attention_mask"].to(dev))
            if self.layer == "weighted":
                emb = masked_mean(weighted_layer_sum(fwd.hidden_states, self.layer_weights), fwd.frame_mask)
            else:
                emb = masked_mean(fwd.hidden_states[-1 if self.layer is None else self.layer], fwd.frame_mask)
            lay = masked_mean(stack_hidden(fwd.hidden_states), fwd.frame_mask) if layers else None
        emb_np = emb.float().cpu().numpy()
        return emb_np, None if lay is None else lay.float().cpu().numpy()


# one registry entry per voice family of the table (``wavlm``, ...), beside the class that builds them
for _family in families_of("voice"):
    ENCODERS.register(_family.name, family_factory(HFAudioEncoder, _family.name))
