"""One trainer for every method: recipes, samplers, validation-based selection, checkpoints, resume, benchmarks.

Entry points: :func:`facevoice.train.run.train` (recipe dict -> run directory),
:func:`facevoice.train.run.train_and_embed`, :func:`facevoice.train.inference.load_method`,
:func:`facevoice.train.benchmark.run_benchmark`; see docs/training.md.
"""
