"""A database behind one worker thread: SQL never runs on the event loop.

SQLAlchemy's synchronous engine runs in a single dedicated thread, so every
write happens in the order it was asked for and the loop only awaits a
future. (SQLAlchemy's asyncio extension would need an async driver per
database and greenlet; one thread gives the same guarantee with the drivers
people already have: sqlite3 and psycopg.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("words.store")

T = TypeVar("T")


class StoreError(RuntimeError):
    """The database failed; the message says what was being done."""


def resolve_url(url: str, base_dir: Path | None = None) -> str:
    """A SQLite file path relative to `base_dir` (the config's folder) becomes absolute."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute() and base_dir is not None:
            return str(parsed.set(database=str((base_dir / path).resolve())))
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL makes a commit
    # durable before we acknowledge it (a SIGKILL right after loses nothing).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.backend = parsed.get_backend_name()
        if self.backend == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.backend == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine: Engine = create_engine(parsed, **kwargs)
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="words-db")

    def run_sync(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run `fn(connection)` in one transaction, in this thread (CLI and startup)."""
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            log.error("database error while %s: %s", what, exc)
            raise StoreError(f"database error while {what}: {exc.__class__.__name__}") from exc

    async def run(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run `fn(connection)` in one transaction on the database thread."""
        return await self.submit(fn, what)

    def submit(self, fn: Callable[[Connection], T], what: str) -> asyncio.Future[T]:
        """Queue `fn(connection)` on the database thread now (run() queues when awaited).

        The thread runs what it is given in order, so whatever is submitted
        later (a read) sees what was submitted before (a write behind).
        """
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self.run_sync, fn, what)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()
