"""Readers of the field's file formats: FOP-style feature CSVs and verification lists (``fop``), the
shared numeric-CSV parsing (``numeric_csv``), the VoxCeleb1 identity list and the SSoS protocol files (``vox``)."""

from __future__ import annotations

from facevoice.data.formats.fop import FOPFeatures, FOPVerificationList, read_fop_features, read_fop_verification_list
from facevoice.data.formats.numeric_csv import FormatError, canonical_labels, read_feature_matrix, require_file
from facevoice.data.formats.vox import (
    META_COLUMNS,
    SSOS_SPLITS,
    read_ssos_split,
    read_ssos_splits,
    read_ssos_trials,
    read_vox1_meta,
)

__all__ = [
    "FOPFeatures",
    "FOPVerificationList",
    "FormatError",
    "META_COLUMNS",
    "SSOS_SPLITS",
    "canonical_labels",
    "read_feature_matrix",
    "read_fop_features",
    "read_fop_verification_list",
    "read_ssos_split",
    "read_ssos_splits",
    "read_ssos_trials",
    "read_vox1_meta",
    "require_file",
]
