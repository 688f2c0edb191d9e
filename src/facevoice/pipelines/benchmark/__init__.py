"""``facevoice benchmark``: methods x seeds on one benchmark (``runner``), scored on every protocol (``scoring``)."""

from __future__ import annotations

from facevoice.pipelines.benchmark.runner import BenchmarkError, load_benchmark, run_benchmark, run_benchmark_recipe

__all__ = ["BenchmarkError", "load_benchmark", "run_benchmark", "run_benchmark_recipe"]
