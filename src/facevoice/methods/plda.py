"""``plda``: the cross-modal PLDA back-end on the cached embeddings themselves (training-free).

The "back-end alone" of the ``xplda`` ablation, and a strong training-free baseline: per modality a
PCA to ``n_pca`` coordinates (fitted on training items), then
:class:`~facevoice.backends.plda.CrossModalPLDA` fitted on the training identities with its
dimensions and ridge chosen on the validation identities (:func:`~facevoice.backends.plda.select_plda`);
scores are log-likelihood ratios, with the training identities remembered (``seen_prior``).

Persistence: the PCA is held in buffers (sized at construction: ``n_pca`` rows, unused rows zero);
the fitted back-end (arrays whose sizes depend on the data) travels as the module's extra state,
which :mod:`facevoice.runs.checkpoint` stores in its safetensors sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from facevoice.backends.plda import DEFAULT_GRID, DEFAULT_POINT, CrossModalPLDA, select_plda
from facevoice.backends.scores import ScoreBackend
from facevoice.heads.layers import check_input, check_modality
from facevoice.methods.base import Batch, Criterion, Method, Modality, SplitArrays
from facevoice.methods.common import resolve_hparams
from facevoice.methods.registry import METHODS

PLDA_DEFAULTS: dict[str, Any] = {
    "n_pca": 64,
    "n_cross": list(DEFAULT_GRID["n_cross"]),
    "n_components": list(DEFAULT_GRID["n_components"]),
    "reg": list(DEFAULT_GRID["reg"]),
    "n_mix": list(DEFAULT_GRID["n_mix"]),
    "seen_prior": 1e-9,
    "seed": 0,
}
BACKEND_KEYS = ("n_cross", "n_components", "reg", "n_mix")


class PCAInput(nn.Module):
    """Per-modality PCA to ``n_pca`` coordinates, fitted on training items: ``(B, D) -> (B, n_pca)``.

    Buffers ``{face,voice}_mean (D,)``, ``{face,voice}_proj (D, n_pca)`` (components divided by one
    global scale, the root mean variance of the kept coordinates, so that inputs have unit variance
    on average while the back-end still sees which directions carry the most variance: its
    ``n_cross`` leading dimensions are a regulariser; columns beyond the fitted number are zero).
    """

    def __init__(self, d_face: int, d_voice: int, n_pca: int) -> None:
        super().__init__()
        self.n_pca = int(n_pca)
        for m, d in (("face", d_face), ("voice", d_voice)):
            self.register_buffer(f"{m}_mean", torch.zeros(int(d)))
            self.register_buffer(f"{m}_proj", torch.zeros(int(d), self.n_pca))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, train: SplitArrays, seed: int = 0) -> PCAInput:
        """Fit on the training items ``train[m] = (X (n, D), identities (n,))``."""
        from sklearn.decomposition import PCA

        for m in ("face", "voice"):
            X = np.asarray(train[m][0], dtype=np.float64)
            k = max(1, min(self.n_pca, X.shape[1], len(X) - 1))
            solver = "full" if min(X.shape) <= 1000 else "randomized"
            pca = PCA(n_components=k, svd_solver=solver, random_state=seed).fit(X)
            scale = np.sqrt(max(float(np.mean(pca.explained_variance_)), 1e-12))
            proj = np.zeros((X.shape[1], self.n_pca))
            proj[:, :k] = pca.components_.T / scale
            getattr(self, f"{m}_mean").copy_(torch.as_tensor(pca.mean_))
            getattr(self, f"{m}_proj").copy_(torch.as_tensor(proj))
        self.fitted.fill_(True)
        return self

    def forward(self, x: torch.Tensor, modality: str) -> torch.Tensor:
        check_modality(modality)
        if not bool(self.fitted):
            raise RuntimeError("PCAInput used before fit (the method was not prepared on training data)")
        mean, proj = getattr(self, f"{modality}_mean"), getattr(self, f"{modality}_proj")
        check_input(x, mean.shape[0], f"PCAInput {modality} input")
        return (x.to(proj.dtype) - mean) @ proj


class BackendState(nn.Module):
    """Holds a fitted :class:`CrossModalPLDA` as the module's extra state (None until fitted)."""

    def __init__(self) -> None:
        super().__init__()
        self.backend: CrossModalPLDA | None = None

    def get_extra_state(self) -> dict[str, Any]:
        return {"plda": None if self.backend is None else self.backend.get_state()}

    def set_extra_state(self, state: Any) -> None:
        plda = (state or {}).get("plda")
        self.backend = None if plda is None else CrossModalPLDA.from_state(plda)


def backend_grid(hp: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The back-end's validation grid from a method's hyper-parameters (scalars become one-point lists)."""
    return {k: list(hp[k]) if isinstance(hp[k], (list, tuple)) else [hp[k]] for k in BACKEND_KEYS}


def fit_plda(
    train: SplitArrays, val: SplitArrays | None, hp: Mapping[str, Any], criterion: Criterion | None = None
) -> tuple[CrossModalPLDA, dict[str, Any]]:
    """The back-end on ``train``, its grid point chosen on ``val`` (without val: ``DEFAULT_POINT`` where the
    grid allows it, else each list's first value).

    ``criterion(scores, labels)`` (lower is better) judges the grid points on ``val``. Returns the
    fitted back-end and a JSON-able summary (chosen settings, validation criterion, grid size).
    """
    grid = backend_grid(hp)
    if val is None:
        params = {k: DEFAULT_POINT[k] if DEFAULT_POINT[k] in v else v[0] for k, v in grid.items()}
        model = CrossModalPLDA(int(hp["n_pca"]), **params, seen_prior=float(hp["seen_prior"]), seed=int(hp["seed"]))
        model.fit(train["face"][0], train["face"][1], train["voice"][0], train["voice"][1])
        return model, {"params": {**params, "n_pca": int(hp["n_pca"])}, "selected_on": None}
    if criterion is None:
        raise ValueError("choosing the back-end on validation identities needs a criterion (e.g. the EER)")
    sel = select_plda(
        train,
        val,
        grid,
        criterion=criterion,
        n_pca=int(hp["n_pca"]),
        seen_prior=float(hp["seen_prior"]),
        seed=int(hp["seed"]),
    )
    best = sel.table[sel.table["selected"]].iloc[0]
    summary = {
        "params": sel.params,
        "selected_on": "val",
        "criterion": getattr(criterion, "__name__", "criterion"),
        "val_criterion": float(best["val_criterion"]),
        "grid_points": len(sel.table),
    }
    return sel.backend, summary


def embed_split(
    fn: Callable[[torch.Tensor, str], torch.Tensor], arrays: SplitArrays, batch_size: int = 4096
) -> dict[str, tuple[np.ndarray, Any]]:
    """``fn(x (B, D), modality)`` (a method's ``embed`` or one of its parts, in eval mode) over every
    item of a split, without gradients: ``{m: (outputs (n, E) float64, identities (n,))}``."""
    out = {}
    owner = getattr(fn, "__self__", None)
    device = next((b.device for b in owner.buffers()), torch.device("cpu")) if owner is not None else "cpu"
    with torch.no_grad():
        for m, (X, ids) in arrays.items():
            parts = [
                fn(torch.as_tensor(np.asarray(X[i : i + batch_size], dtype=np.float32), device=device), m)
                for i in range(0, len(X), batch_size)
            ]
            out[m] = (torch.cat(parts).double().cpu().numpy(), ids)
    return out


@METHODS.register("plda")
class PLDAMethod(Method):
    """PCA per modality -> cross-modal PLDA back-end (training-free; settings chosen on validation)."""

    trainable = False
    sampling = "paired"

    def __init__(self, d_face: int, d_voice: int, n_classes: int, **hparams: Any) -> None:
        hp = resolve_hparams("plda", PLDA_DEFAULTS, hparams)
        super().__init__(d_face, d_voice, n_classes, **hp)
        self.inputs = PCAInput(d_face, d_voice, int(hp["n_pca"]))
        self.store = BackendState()

    def fit_backend(self, train: SplitArrays, val: SplitArrays | None, criterion: Criterion | None = None) -> dict:
        """PCA on the training items, then the back-end on their PCA coordinates (grid chosen on ``val``)."""
        self.inputs.fit(train, int(self.hparams["seed"]))
        self.eval()
        val_in = None if val is None else embed_split(self.inputs, val)
        backend, summary = fit_plda(embed_split(self.inputs, train), val_in, self.hparams, criterion)
        self.store.backend = backend
        return summary

    def fit_bundle(self, face_X: Any, face_labels: Any, voice_X: Any, voice_labels: Any) -> PLDAMethod:
        """Fit on training items only (no validation: the grid's first point); see :meth:`fit_backend`."""
        arrays = {"face": (_numpy(face_X), _numpy(face_labels)), "voice": (_numpy(voice_X), _numpy(voice_labels))}
        self.fit_backend(arrays, None)
        return self

    def training_step(self, batch: Batch, step: int, epoch: int) -> dict[str, torch.Tensor]:
        raise TypeError("method 'plda' is training-free (trainable = False): fit it with fit_backend(...)")

    def configure_optimizer(self, n_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        raise TypeError("method 'plda' is training-free (trainable = False) and has no optimiser")

    def embed(self, x: torch.Tensor, modality: Modality) -> torch.Tensor:
        """PCA coordinates ``(B, n_pca)`` (the back-end's input)."""
        return self.inputs(x, modality)

    def score_backend(self) -> ScoreBackend:
        if self.store.backend is None:
            raise RuntimeError("method 'plda' has no fitted back-end: fit it (facevoice train) before scoring")
        return self.store.backend


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
