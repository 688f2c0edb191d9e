"""The one training engine: loop, batch sources, validation-only selection, checkpoints, exact resume.

:class:`facevoice.train.trainer.Trainer` trains the head methods (through
:func:`facevoice.pipelines.run.train`, recipe dict -> run directory; :func:`facevoice.pipelines.run.train_and_embed`;
:func:`facevoice.pipelines.benchmark.runner.run_benchmark`) and ``facevoice finetune``
(:func:`facevoice.finetune.run.finetune`). Trained runs are used through :func:`facevoice.runs.loading.load_method`.
See docs/training.md, "The trainer".
"""
