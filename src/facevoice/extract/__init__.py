"""Resumable, sharded, multi-process embedding extraction (``facevoice extract``)."""

from facevoice.extract.runner import ExtractResult, extract, result_dict

__all__ = ["ExtractResult", "extract", "result_dict"]
