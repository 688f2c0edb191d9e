"""Orchestration, the layer under the CLI: run a recipe (``run``), benchmarks, demo, recipes and data sources.

Each CLI command calls one function here; nothing below imports this package.
"""
