"""Git loss (Calefati et al., BMVC 2018), as used by SBNet.

``L = lambda_c * L_C + lambda_g * L_G`` with the centre term ``L_C`` of
:class:`~facevoice.losses.center.CenterLoss` and the push term over pairs of the batch::

    L_G = mean_{i != j} 1 / (1 + ||x_i - c_{y_j}||^2)

(the paper's sum over pairs divided by their number). ``pairs="different_identity"`` also drops
pairs with ``y_i == y_j``, which would push a feature away from its own centre. A batch without
valid pairs (one row, or one identity with ``"different_identity"``) has ``L_G = 0``.

``form="reference_tf"`` reproduces SBNet's TensorFlow code: centre term = mean squared element,
push term = mean over all ``(i, j, d)`` of ``1 / (1 + (m_ij (x_id - c_{y_j} d))^2)`` with the
diagonal differences zeroed (so the diagonal contributes ones); the reference never updates its
centres (use ``update_centers=False, init="xavier"``).
"""

from __future__ import annotations

import torch

from facevoice.losses.center import CenterLoss
from facevoice.losses.registry import LOSSES

GIT_PAIRS = ("i_ne_j", "different_identity")


@LOSSES.register("git")
class GitLoss(CenterLoss):
    """Centre pull plus push away from the centres of the other rows' identities.

    Args (besides those of :class:`CenterLoss`, whose ``weight`` is replaced by the two below):
        lambda_c: weight of the centre term (SBNet ``alpha_c``; 1 in the reference).
        lambda_g: weight of the push term (SBNet ``alpha_g``; 1 in the reference).
        pairs: ``"i_ne_j"`` (paper formula) or ``"different_identity"``.
    """

    def __init__(
        self,
        n_classes: int,
        dim: int,
        lambda_c: float = 1.0,
        lambda_g: float = 1.0,
        pairs: str = "i_ne_j",
        center_lr: float = 0.5,
        update_centers: bool = True,
        init: str = "zeros",
        form: str = "paper",
    ) -> None:
        super().__init__(n_classes, dim, 1.0, center_lr, update_centers, init, form)
        if pairs not in GIT_PAIRS:
            raise ValueError(f"git loss pairs must be one of {GIT_PAIRS}, got {pairs!r}")
        self.lambda_c, self.lambda_g, self.pairs = float(lambda_c), float(lambda_g), pairs

    def push_term(self, features: torch.Tensor, labels: torch.Tensor, centers_batch: torch.Tensor) -> torch.Tensor:
        """``L_G`` for features ``(B, D)``, labels ``(B,)`` and the rows' centres ``(B, D)``."""
        n = features.shape[0]
        mask = ~torch.eye(n, dtype=torch.bool, device=features.device)
        if self.form == "reference_tf":
            diffs = (features[:, None, :] - centers_batch[None, :, :]) * mask[:, :, None].to(features.dtype)
            return (1.0 / (1.0 + diffs.pow(2))).mean()
        if self.pairs == "different_identity":
            mask = mask & (labels[:, None] != labels[None, :])
        # ||x_i - c_j||^2 by expansion: a (B, B) matrix instead of a (B, B, D) broadcast.
        d2 = (
            features.pow(2).sum(1)[:, None] + centers_batch.pow(2).sum(1)[None, :] - 2.0 * features @ centers_batch.T
        ).clamp(min=0.0)
        m = mask.to(features.dtype)
        return (m / (1.0 + d2)).sum() / m.sum().clamp(min=1.0)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"loss", "center", "push"}``; updates the centres afterwards in training mode."""
        labels, centers_batch = self._inputs(features, labels)
        center = self.center_term(features, centers_batch)
        push = self.push_term(features, labels, centers_batch)
        if self.training and self.update_centers:
            self.update(features, labels)
        loss = self.lambda_c * center + self.lambda_g * push
        return {"loss": loss, "center": center.detach(), "push": push.detach()}
