"""Module loggers, written through rich when it is installed."""

from __future__ import annotations

import logging
import os
import sys


def get_logger(name: str) -> logging.Logger:
    """A module logger; the first call configures the root logger (level from ``FACEVOICE_LOGLEVEL``)."""
    logger = logging.getLogger(name)
    if not logging.getLogger().handlers and not logger.handlers:
        fmt = "%(message)s"
        try:
            from rich.console import Console
            from rich.logging import RichHandler

            if not Console().is_terminal:  # logs and pipes: one plain line per record, never wrapped at 80 columns
                raise ImportError
            handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        except ImportError:
            handler = logging.StreamHandler(sys.stdout)
            fmt = "[%(asctime)s] %(levelname)-7s %(message)s"
        logging.basicConfig(level=os.environ.get("FACEVOICE_LOGLEVEL", "INFO"), format=fmt, handlers=[handler])
    return logger
