"""Logging for `words serve`: rich on a terminal, plain lines otherwise, or JSON lines.

Connection log lines carry structured fields: `conn` (the connection id, an
int) and `peer` ("host:port"), put on the record by the connection's log
adapter (`IRCConnection.log`). The text formatters show them as
"[conn#N host:port]" in front of the message; the JSON formatter gives them
as fields of their own.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from words.config import LOG_FORMATS

_PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _with_connection(record: logging.LogRecord) -> str:
    """The record's message, with "[conn#N host:port] " in front for connection lines."""
    message = record.getMessage()
    conn = getattr(record, "conn", None)
    if conn is None:
        return message
    peer = getattr(record, "peer", None)
    return f"[conn#{conn} {peer}] {message}" if peer else f"[conn#{conn}] {message}"


class TextFormatter(logging.Formatter):
    """A `logging.Formatter` that shows a connection line's id and peer before its message."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "conn", None) is None:
            return super().format(record)
        saved = record.msg, record.args
        record.msg, record.args = _with_connection(record), None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = saved


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (+ conn, peer, exception).

    Newlines inside a message are escaped by JSON, so a line is always one record.
    """

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        conn = getattr(record, "conn", None)
        if conn is not None:
            entry["conn"] = conn
            peer = getattr(record, "peer", None)
            if peer:
                entry["peer"] = peer
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def make_handler(log_format: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """The handler `words serve` logs through: JSON, rich (a terminal) or plain text."""
    stream = stream if stream is not None else sys.stderr
    if log_format == "json":
        handler: logging.Handler = logging.StreamHandler(stream)
        handler.setFormatter(JSONFormatter())
        return handler
    if log_format != "text":
        raise ValueError(f"unknown log format {log_format!r} (one of {', '.join(LOG_FORMATS)})")
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(
            console=Console(file=stream), show_path=False, rich_tracebacks=False,
            log_time_format="[%X]",
        )
        handler.setFormatter(TextFormatter("%(message)s"))
        return handler
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter(_PLAIN_FORMAT))
    return handler


def setup_logging(level: str, log_format: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record at `level` or above to stderr (or `stream`) in `log_format`."""
    logging.basicConfig(level=level.upper(), handlers=[make_handler(log_format, stream)], force=True)
