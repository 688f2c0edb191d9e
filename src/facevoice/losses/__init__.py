"""Losses of the cross-modal methods, one file each, registered in :data:`LOSSES`.

Every loss is a :class:`facevoice.losses.base.Loss` whose hyper-parameters are constructor
arguments; it declares the named inputs its ``forward`` takes (:data:`INPUTS`) and returns a dict of
named terms plus ``"loss"`` (the one to optimise), on the device of its inputs. :func:`create_loss`
builds one by name. A loss registers itself beside its class (``@LOSSES.register("name")``); the
registry imports the loss modules on its first lookup, so importing this package imports no torch.
"""

from __future__ import annotations

from facevoice.losses.registry import INPUTS, LOSSES, SIZES, check_inputs, create_loss, losses_fitting

__all__ = ["INPUTS", "LOSSES", "SIZES", "check_inputs", "create_loss", "losses_fitting"]
