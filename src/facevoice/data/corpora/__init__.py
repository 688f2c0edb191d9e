"""Corpus preparers, one module per corpus layout: each writes a validated manifest (``facevoice prepare``).

``folder`` (``<root>/<identity>/{faces,voices}``), ``voxceleb1``, ``mavceleb`` (FAME), ``features``
(FOP-style feature CSVs to manifest + embedding stores).
"""

from __future__ import annotations

from facevoice.data.corpora.features import FeaturePair, prepare_features
from facevoice.data.corpora.folder import attach_meta, list_files, prepare_folder
from facevoice.data.corpora.mavceleb import prepare_mavceleb
from facevoice.data.corpora.voxceleb1 import prepare_voxceleb1

__all__ = [
    "FeaturePair",
    "attach_meta",
    "list_files",
    "prepare_features",
    "prepare_folder",
    "prepare_mavceleb",
    "prepare_voxceleb1",
]
