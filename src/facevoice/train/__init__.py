"""One trainer for every method: recipes, samplers, validation-based selection, checkpoints, resume, benchmarks.

Entry points: :func:`facevoice.pipelines.run.train` (recipe dict -> run directory),
:func:`facevoice.pipelines.run.train_and_embed`, :func:`facevoice.runs.loading.load_method`,
:func:`facevoice.pipelines.benchmark.runner.run_benchmark`; see docs/training.md.
"""
