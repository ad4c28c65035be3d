"""An optional Prometheus endpoint: `metrics: {listen: "127.0.0.1:9108"}` in the config.

A tiny HTTP/1.1 server on asyncio answers `GET /metrics` with the Prometheus
text format (version 0.0.4) and everything else with 404. It has no
authentication: keep it on loopback or behind a firewall.

Nothing is measured per recipient beyond an integer add: the IRC server keeps
plain int counters (lines in per read, deliveries and lines out per flush,
SendQ disconnects, the sweep timer's lateness) and the gauges (clients,
users, channels) are read from state that exists anyway, when scraped.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from words.cred import LoginThrottle

if TYPE_CHECKING:
    from words.config import Listen
    from words.irc.server import IRCServer

log = logging.getLogger("words.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The message words.store.Database logs once for every failed database transaction.
_DATABASE_ERROR = "database error while %s: %s"
_MAX_REQUEST = 8192  # bytes of request line and headers
_REQUEST_TIMEOUT = 5.0  # seconds to send them
_MAX_SCRAPERS = 16  # concurrent HTTP connections; more are closed at once


@dataclass
class CountingLoginThrottle(LoginThrottle):
    """The login throttle, also counting every failed login (PASS, SASL, NickServ) for metrics."""

    failures_total: int = 0

    def failed(self, account: str | None, address: str | None) -> None:
        self.failures_total += 1
        super().failed(account, address)


class _DatabaseErrors(logging.Handler):
    """Counts the errors words.store logs for failed database transactions (reads and writes)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _DATABASE_ERROR:
            self.count += 1


_database_errors: _DatabaseErrors | None = None


def database_errors() -> int:
    """Failed database transactions in this process since the first call."""
    global _database_errors
    if _database_errors is None:
        _database_errors = _DatabaseErrors()
        logging.getLogger("words.store").addHandler(_database_errors)
    return _database_errors.count


def render(server: IRCServer) -> str:
    """The Prometheus text exposition of `server`'s state and counters."""
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, value: float | str, labels: str = "") -> None:
        out.append(f"# HELP {name} {help_}\n# TYPE {name} {kind}\n{name}{labels} {value}\n")

    throttle = server.portal.throttle
    metric("words_clients", "gauge", "Open client connections, registered or not.", len(server.connections))
    metric("words_users", "gauge", "Registered clients of this server.", server.local_users)
    metric("words_operators", "gauge", "Users with operator status.", server.flag_counts["operator"])
    metric("words_channels", "gauge", "Channels that exist.", len(server.realm.groups))
    metric("words_connections_total", "counter", "Connections accepted.", server.connections_total)
    metric("words_lines_in_total", "counter", "Lines received from clients.", server.lines_in)
    metric("words_bytes_in_total", "counter", "Bytes received from clients.", server.bytes_in)
    metric(
        "words_deliveries_total", "counter",
        "Messages queued to a client (one per recipient and event or reply).", server.deliveries,
    )
    metric("words_lines_out_total", "counter", "Lines written to clients.", server.lines_out)
    metric("words_bytes_out_total", "counter", "Bytes written to clients.", server.bytes_out)
    metric(
        "words_sendq_disconnects_total", "counter",
        "Clients closed because their send queue went past limits.sendq.", server.sendq_disconnects,
    )
    metric(
        "words_login_failures_total", "counter", "Failed logins (PASS, SASL, NickServ).",
        getattr(throttle, "failures_total", 0),
    )
    metric(
        "words_database_errors_total", "counter", "Failed database transactions (reads and writes).",
        database_errors(),
    )
    metric(
        "words_event_loop_lag_seconds", "gauge",
        "How late the last once-a-second timer ran: time the event loop was busy.", f"{server.loop_lag:.6f}",
    )
    out.append(
        "# HELP words_event_loop_lag_seconds_summary Event-loop lag over every timer run.\n"
        "# TYPE words_event_loop_lag_seconds_summary summary\n"
        f"words_event_loop_lag_seconds_summary_sum {server.loop_lag_sum:.6f}\n"
        f"words_event_loop_lag_seconds_summary_count {server.loop_lag_count}\n"
    )
    metric("words_start_time_seconds", "gauge", "When the server started (Unix time).", f"{server.created:.3f}")
    metric(
        "words_python_heap_blocks", "gauge",
        "Memory blocks the interpreter has allocated: live objects and buffers (RSS also holds "
        "memory the allocator keeps after they are freed; 0 under PYTHONMALLOC=malloc).",
        sys.getallocatedblocks(),
    )
    commands = sorted(server.command_counts.items())
    out.append("# HELP words_commands_total Commands dispatched, by command.\n# TYPE words_commands_total counter\n")
    out.extend(f'words_commands_total{{command="{name}"}} {count}\n' for name, count in commands)
    return "".join(out)


class MetricsServer:
    """Serves `render(server)` over HTTP at /metrics."""

    def __init__(self, server: IRCServer) -> None:
        self.server = server
        self._http: asyncio.Server | None = None
        self._open = 0
        self.bound: tuple[str, int] | None = None
        database_errors()  # count from now on

    async def start(self, listen: Listen) -> tuple[str, int]:
        self._http = await asyncio.start_server(
            self._handle, listen.host, listen.port, reuse_address=True, limit=_MAX_REQUEST,
        )
        host, port = self._http.sockets[0].getsockname()[:2]
        self.bound = (host, port)
        log.info("metrics on http://%s:%s/metrics", host, port)
        return self.bound

    async def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
            self._http = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        try:
            if self._open > _MAX_SCRAPERS:
                return
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            request = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(request) == 3 and request[0] == "GET" and request[1].split("?", 1)[0] == "/metrics":
                started = time.perf_counter()
                body = render(self.server).encode()
                log.debug("metrics rendered in %.1f ms", (time.perf_counter() - started) * 1000)
                status, content_type = "200 OK", CONTENT_TYPE
            else:
                status, content_type, body = "404 Not Found", "text/plain; charset=utf-8", b"Not Found\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._open -= 1
            writer.close()
