"""The rich console for the tables words prints (start-up summary, admin, cluster status)."""

from __future__ import annotations

from rich.console import Console

# To a file or pipe (journald, a test): whole rows, never cut or wrapped at 80 columns.
PIPE_WIDTH = 1000


def table_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console
