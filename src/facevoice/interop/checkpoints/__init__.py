"""Import the field's released checkpoints (FOP two-branch, SBNet shared-branch) as facevoice runs.

``import_checkpoint(FILE, OUT, fmt="auto")`` loads the file with ``torch.load(weights_only=True)``,
recognises its format from tensor names and shapes (:mod:`.fop`, :mod:`.sbnet`), loads the weights
bit for bit into facevoice's head and writes a run directory. :mod:`.releases` says which external
encoders each release's input features come from.
"""

from __future__ import annotations

from facevoice.interop.checkpoints.importer import (
    FORMAT_CHOICES,
    FORMATS,
    import_checkpoint,
    import_head,
    import_method,
    read_checkpoint,
    recognise,
)
from facevoice.interop.checkpoints.layout import FormatMismatch, Recognised
from facevoice.interop.checkpoints.reading import CheckpointImportError
from facevoice.interop.checkpoints.releases import RELEASES, input_record, release_record

__all__ = [
    "FORMATS",
    "FORMAT_CHOICES",
    "RELEASES",
    "CheckpointImportError",
    "FormatMismatch",
    "Recognised",
    "import_checkpoint",
    "import_head",
    "import_method",
    "input_record",
    "read_checkpoint",
    "recognise",
    "release_record",
]
