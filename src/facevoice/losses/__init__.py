"""Losses of the cross-modal methods, one file each, registered in :data:`LOSSES`.

Every loss is an ``nn.Module`` whose hyper-parameters are constructor arguments; ``forward`` takes
tensors and returns a dict of named terms plus ``"loss"`` (the one to optimise), on the device of
its inputs. Entries are registered lazily so that importing this package imports no loss module.
"""

from __future__ import annotations

from facevoice.core.registry import Registry

LOSSES = Registry("loss")

LOSSES.register("cross_entropy", "facevoice.losses.cross_entropy:CrossEntropyLoss")
LOSSES.register("opl", "facevoice.losses.opl:OrthogonalProjectionLoss")
LOSSES.register("center", "facevoice.losses.center:CenterLoss")
LOSSES.register("git", "facevoice.losses.git:GitLoss")
LOSSES.register("hyperbolic_alignment", "facevoice.losses.hyperbolic_alignment:HyperbolicAlignmentLoss")
LOSSES.register("ssos_alignment", "facevoice.losses.ssos_alignment:SSoSAlignmentLoss")
LOSSES.register("infonce", "facevoice.losses.infonce:InfoNCELoss")

__all__ = ["LOSSES"]
