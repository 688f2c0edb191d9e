"""Correlation study: which geometry metric predicts the cross-modal EER? Statistics (``stats``), table
readers (``formats``) and the whole study in one call (``study``)."""

from __future__ import annotations

from facevoice.analysis.correlation.stats import OLSResult, bootstrap_ci, correlate, ols, pearson, spearman
from facevoice.analysis.correlation.study import correlation_study, load_pair_table

__all__ = [
    "OLSResult",
    "bootstrap_ci",
    "correlate",
    "correlation_study",
    "load_pair_table",
    "ols",
    "pearson",
    "spearman",
]
