"""The training-free CCA baseline (geometry study) as a registered method.

Wraps :class:`facevoice.backends.cca.CCABaseline` (PCA 50 per modality → CCA 50 on training
identities → cosine). ``trainable = False``: the trainer calls :meth:`CCAMethod.fit_bundle` on the
training items instead of running gradient steps. After fitting, each modality's projection
(PCA then the canonical weights: an affine map) is stored as buffers ``{face,voice}_proj (D, k)``
and ``{face,voice}_offset (k,)`` so that the fitted baseline is saved and loaded with the method's
``state_dict`` like any other method, and :meth:`embed` runs in torch on any device; columns
beyond the fitted number of components are zero (they do not change cosines).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from facevoice.backends.cca import CCABaseline
from facevoice.heads.layers import check_input, check_modality
from facevoice.methods.base import Batch, Method, Modality
from facevoice.methods.common import check_choice, resolve_hparams
from facevoice.methods.registry import METHODS

# "auto": the backend's documented rule (the spec's 50 components / ridge 1e-3 from 800 training
# identities on; fewer components and a stronger ridge for small training sets such as MAV-Celeb).
CCA_DEFAULTS: dict[str, Any] = {"n_pca": 50, "n_components": "auto", "reg": "auto", "pairing": "cyclic", "seed": 0}


@METHODS.register("cca")
class CCAMethod(Method):
    """PCA + CCA fitted on training identities; cosine scores in the canonical space."""

    trainable = False
    sampling = "paired"

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("cca", CCA_DEFAULTS, hparams)
        check_choice("cca", "pairing", hp["pairing"], ("cyclic", "centroid"))
        super().__init__(d_face, d_voice, n_classes, **hp)
        # buffers sized for the most components the fit can keep; unused columns stay zero
        k = int(hp["n_pca"]) if hp["n_components"] == "auto" else int(hp["n_components"])
        for m, d in (("face", self.d_face), ("voice", self.d_voice)):
            self.register_buffer(f"{m}_proj", torch.zeros(d, k))
            self.register_buffer(f"{m}_offset", torch.zeros(k))
        self.register_buffer("fitted", torch.tensor(False))
        self.backend: Any = None

    def fit_bundle(self, face_X: Any, face_labels: Any, voice_X: Any, voice_labels: Any) -> CCAMethod:
        """Fit on training items: ``face_X (Nf, Df)`` with identities ``face_labels (Nf,)``, likewise voice."""

        face_X, voice_X = _numpy(face_X), _numpy(voice_X)
        check_input(torch.from_numpy(face_X[:0]), self.d_face, "CCAMethod.fit_bundle face_X")
        check_input(torch.from_numpy(voice_X[:0]), self.d_voice, "CCAMethod.fit_bundle voice_X")
        hp = self.hparams
        n_comp = hp["n_components"] if hp["n_components"] == "auto" else int(hp["n_components"])
        reg = hp["reg"] if hp["reg"] == "auto" else float(hp["reg"])
        cca = CCABaseline(int(hp["n_pca"]), n_comp, reg, hp["pairing"], int(hp["seed"]))
        cca.fit(face_X, _numpy(face_labels), voice_X, _numpy(voice_labels))
        for m in ("face", "voice"):
            pca, W = cca.pca_[m], cca.W_[m]
            if getattr(pca, "whiten", False):
                raise ValueError("CCAMethod expects an unwhitened PCA in CCABaseline")
            A = pca.components_.T @ W  # (D, k_fit): x -> ((x - mean) C^T - mu) W
            b = -(pca.mean_ @ pca.components_.T + cca.mean_[m]) @ W
            proj, offset = getattr(self, f"{m}_proj"), getattr(self, f"{m}_offset")
            proj.zero_()
            offset.zero_()
            proj[:, : A.shape[1]] = torch.as_tensor(A, dtype=proj.dtype)
            offset[: b.shape[0]] = torch.as_tensor(b, dtype=offset.dtype)
        self.fitted.fill_(True)
        self.backend = cca
        return self

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        raise TypeError("method 'cca' is training-free (trainable = False): fit it with fit_bundle(...)")

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        raise TypeError("method 'cca' is training-free (trainable = False) and has no optimiser")

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """L2-normalised canonical projections ``(B, n_components)``."""
        check_modality(modality)
        if not bool(self.fitted):
            raise RuntimeError("CCAMethod.embed called before fit_bundle")
        check_input(x, self.d_face if modality == "face" else self.d_voice, f"CCAMethod {modality} input")
        proj, offset = getattr(self, f"{modality}_proj"), getattr(self, f"{modality}_offset")
        z = x.to(proj.dtype) @ proj + offset
        return torch.nn.functional.normalize(z, dim=1)


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
