"""facevoice command line: a thin typer app over library functions.

Every module in this package (other than ``__init__``) that defines ``register(app)`` adds its
subcommands; heavy imports stay inside the command functions so ``facevoice --help`` is instant.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="facevoice",
    help="Cross-modal face-voice matching: prepare, extract, train, evaluate, report, analyze.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Cross-modal face-voice matching: prepare, extract, train, evaluate, report, analyze."""


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()
