"""The rich console every command prints through.

On a terminal rich fits tables to its width. When the output is a pipe or a file (logs, ``| tee``,
CI), rich would assume 80 columns and cut numbers to ``13.…``; there the console is made wide enough
that every table keeps its full figures (lines are as long as the table needs, not padded).
"""

from __future__ import annotations

#: columns assumed when the output is not a terminal (a table wider than this would still wrap)
PIPE_WIDTH = 400


def console(stderr: bool = False):
    """A ``rich.console.Console`` on stdout (or stderr) that never truncates tables in pipes and logs."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=PIPE_WIDTH)
    return out
