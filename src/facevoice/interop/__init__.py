"""Interoperability with the field's releases: FOP checkpoints, FOP-style feature CSVs, FAME submissions."""
