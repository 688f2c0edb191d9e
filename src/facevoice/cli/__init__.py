"""facevoice command line: a thin typer app over library functions.

Every module in this package (other than ``__init__``) that defines ``register(app)`` adds its
subcommands; heavy imports stay inside the command functions so ``facevoice --help`` is instant.

Errors caused by the user's input (a malformed file, a missing path, a bad option value, a store or
checkpoint that does not fit) are printed as one ``error: ...`` line naming the file and the
problem, exit status 1; ``FACEVOICE_DEBUG=1`` shows the full traceback instead. Other exceptions
(bugs) keep their traceback.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

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


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that describe bad input rather than a bug (their messages name the file)."""
    from facevoice.finetune.cache import InputCacheError
    from facevoice.pipelines.benchmark.runner import BenchmarkError
    from facevoice.runs.checkpoint import CheckpointError
    from facevoice.store.embedding_store import StoreError

    # ValueError covers FormatError, ConfigError, ManifestError, ProtocolError, FameFormatError, ...
    return (ValueError, OSError, StoreError, CheckpointError, BenchmarkError, InputCacheError)


def main() -> None:
    """Console-script entry point: user errors as one ``error:`` line (see the module docstring)."""
    try:
        app()
    except Exception as exc:
        if os.environ.get("FACEVOICE_DEBUG") or not isinstance(exc, _user_errors()):
            raise
        print(f"error: {exc}", file=sys.stderr)
        print(f"({type(exc).__name__}; set FACEVOICE_DEBUG=1 for the traceback)", file=sys.stderr)
        raise SystemExit(1) from None
