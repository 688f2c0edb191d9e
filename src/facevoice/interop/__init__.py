"""Interoperability with the field's releases: FOP and SBNet checkpoints (``checkpoints``), FOP-style feature
CSVs, FAME submissions."""
