"""``python -m facevoice.extract MANIFEST --encoder ... --out ...`` (same options as ``facevoice extract``).

Entry point for launchers that need a module: ``torchrun --standalone --nproc_per_node 2 -m facevoice.extract ...``
or ``accelerate launch -m facevoice.extract ...``; every process writes its own shards into one store.
"""

import typer

from facevoice.cli.extract import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
register(app)

if __name__ == "__main__":
    app()
