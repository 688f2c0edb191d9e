"""Center loss (Wen et al., ECCV 2016), as used by SBNet.

``L_C = 1/2 * mean_i ||x_i - c_{y_i}||^2`` (the paper's ``1/2 sum`` divided by the batch size, so the
weight does not depend on the batch size). The centres are a buffer, not parameters: after each
training-mode forward pass they move towards the batch features with the paper's rule
``c_j <- c_j - alpha * sum_{i: y_i = j}(c_j - x_i) / (1 + n_j)``, ``alpha = center_lr = 0.5``.

SBNet's TensorFlow reference differs (METHODS.md §5): it applies the loss to the *logits*, takes
the mean of the squared differences over all elements, starts the centres from a Xavier-uniform
draw and never runs the update op. ``form="reference_tf"`` gives that loss value; pair it with
``update_centers=False`` and ``init="xavier"`` (SBNet's method option ``reference_tf`` does all
three and feeds the logits).
"""

from __future__ import annotations

import torch
from torch import nn

from facevoice.losses._checks import check_features_labels
from facevoice.losses.base import Loss
from facevoice.losses.registry import LOSSES

CENTER_FORMS = ("paper", "reference_tf")
CENTER_INITS = ("zeros", "xavier")


@LOSSES.register("center")
class CenterLoss(Loss):
    """Pull features ``(B, D)`` towards their class centre ``(n_classes, D)``.

    Args:
        n_classes: number of training identities.
        dim: feature size ``D``.
        weight: factor on the centre term in ``"loss"`` (SBNet's ``alpha_c``).
        center_lr: centre update rate ``alpha``.
        update_centers: move the centres after each training-mode forward pass.
        init: ``"zeros"`` (paper) or ``"xavier"`` (TF reference) initial centres.
        form: ``"paper"`` (1/2 mean squared norm) or ``"reference_tf"`` (mean squared element).
    """

    inputs = ("features", "labels")
    sizes = ("n_classes", "dim")

    def __init__(
        self,
        n_classes: int,
        dim: int,
        weight: float = 1.0,
        center_lr: float = 0.5,
        update_centers: bool = True,
        init: str = "zeros",
        form: str = "paper",
    ) -> None:
        super().__init__()
        if form not in CENTER_FORMS:
            raise ValueError(f"center loss form must be one of {CENTER_FORMS}, got {form!r}")
        if init not in CENTER_INITS:
            raise ValueError(f"center init must be one of {CENTER_INITS}, got {init!r}")
        if n_classes < 1 or dim < 1:
            raise ValueError(f"center loss needs n_classes >= 1 and dim >= 1, got {n_classes}, {dim}")
        centers = torch.zeros(n_classes, dim)
        if init == "xavier":
            nn.init.xavier_uniform_(centers)
        self.register_buffer("centers", centers)
        self.n_classes, self.dim = int(n_classes), int(dim)
        self.weight, self.center_lr = float(weight), float(center_lr)
        self.update_centers, self.form = bool(update_centers), form

    def _inputs(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        name = type(self).__name__
        labels = check_features_labels(name, features, labels)
        if features.shape[1] != self.dim:
            raise ValueError(f"{name} was built for dim {self.dim}, got features of shape {tuple(features.shape)}")
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"{name} labels must lie in [0, {self.n_classes}), got {labels.tolist()}")
        return labels, self.centers.to(features.dtype)[labels]

    def center_term(self, features: torch.Tensor, centers_batch: torch.Tensor) -> torch.Tensor:
        """The pull term for features ``(B, D)`` and their centres ``(B, D)``."""
        sq = (features - centers_batch).pow(2)
        return sq.mean() if self.form == "reference_tf" else 0.5 * sq.sum(dim=1).mean()

    @torch.no_grad()
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Move the centres of the classes in the batch: ``features (B, D)``, ``labels (B,)``."""
        diff = self.centers[labels] - features.detach().to(self.centers.dtype)
        sums = torch.zeros_like(self.centers).index_add_(0, labels, diff)
        counts = torch.bincount(labels, minlength=self.n_classes).to(self.centers.dtype)
        self.centers -= self.center_lr * sums / (1.0 + counts)[:, None]

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "center"}``; updates the centres afterwards in training mode."""
        labels, centers_batch = self._inputs(features, labels)
        center = self.center_term(features, centers_batch)
        if self.training and self.update_centers:
            self.update(features, labels)
        return {"loss": self.weight * center, "center": center.detach()}
