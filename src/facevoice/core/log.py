"""Module loggers, written through rich when it is installed."""

from __future__ import annotations

import logging
import os


def get_logger(name: str) -> logging.Logger:
    """A module logger; the first call configures the root logger (level from ``FACEVOICE_LOGLEVEL``)."""
    logger = logging.getLogger(name)
    if not logging.getLogger().handlers and not logger.handlers:
        try:
            from rich.logging import RichHandler

            handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        except ImportError:
            handler = logging.StreamHandler()
        logging.basicConfig(
            level=os.environ.get("FACEVOICE_LOGLEVEL", "INFO"), format="%(message)s", handlers=[handler]
        )
    return logger
