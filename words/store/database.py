"""A database behind one worker thread: SQL never runs on the event loop.

SQLAlchemy's synchronous engine runs in a single dedicated thread, so every
write happens in the order it was asked for and the loop only awaits a
future. (SQLAlchemy's asyncio extension would need an async driver per
database and greenlet; one thread gives the same guarantee with the drivers
people already have: sqlite3 and psycopg.)

When the database goes away (PostgreSQL stopped, a SQLite file made
unwritable), a transaction fails with a *transient* StoreError: what a user
asked for directly (REGISTER, a password change) fails with a clear message,
while the realm's write-behind (`retrying()`) tries the same transaction again
with a growing pause (0.1 s to 5 s) until the database is back, so nothing
already accepted is lost and the order of changes is kept. `available` says
whether the last transaction worked; the outage and the recovery are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)

log = logging.getLogger("words.store")

T = TypeVar("T")


# Set in the write-behind's task: Database.run retries transient failures there.
_RETRYING: ContextVar[bool] = ContextVar("words_store_retrying", default=False)
RETRY_MIN = 0.1  # seconds before the first retry, doubled each time
RETRY_MAX = 5.0  # the longest pause between two retries


class StoreError(RuntimeError):
    """The database failed; the message says what was being done.

    `transient`: the database could not be reached or written (it may come
    back); otherwise it refused the change itself (a constraint, a bug).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(exc: SQLAlchemyError) -> bool:
    """Is this the database being away (stopped, unwritable, replaced) rather than a refusal?"""
    if getattr(exc, "connection_invalidated", False):
        return True
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True  # connection refused or lost, disk I/O error, read-only database
    # "file is not a database" (a replaced SQLite file) is a bare DatabaseError.
    refusals = (IntegrityError, ProgrammingError, DataError, NotSupportedError)
    return isinstance(exc, DatabaseError) and not isinstance(exc, refusals)


def describe(exc: BaseException) -> str:
    """What went wrong, fit for a log: the driver's error and the first line of its message.

    Never the statement, its parameters or PostgreSQL's DETAIL ("Failing row
    contains (...)"), which would put password hashes and message text in the log.
    """
    source = getattr(exc, "orig", None) or exc
    lines = str(source).strip().splitlines()
    return f"{type(source).__name__}: {lines[0]}" if lines else type(source).__name__


class _FileGone(Exception):
    """The SQLite file was removed while words runs."""


@contextmanager
def retrying() -> Iterator[None]:
    """Within this block (in this task), Database.run retries until the database is back."""
    token = _RETRYING.set(True)
    try:
        yield
    finally:
        _RETRYING.reset(token)


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
        # hide_parameters: an error's text never holds what the statement carried
        # (password hashes, SCRAM verifiers, message text).
        kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if self.backend == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # A server that does not answer must not hold the database thread for minutes.
            kwargs["connect_args"] = {"connect_timeout": 5}
        self.engine: Engine = create_engine(parsed, **kwargs)
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="words-db")
        self.available = True  # did the last transaction reach the database?
        self._closing = False
        # A SQLite file, and the inode its pooled connections opened (see _check_file).
        self._file = None if parsed.database in (None, "", ":memory:") or self.backend != "sqlite" \
            else Path(parsed.database)
        self._inode: int | None = None

    def _check_file(self) -> None:
        """A pooled SQLite connection keeps writing the file it opened, even once that file
        was removed or replaced: writes would vanish with it. So a removed file is an
        outage, and a replaced one (put back from a backup, say) is reopened."""
        if self._file is None:
            return
        try:
            inode = self._file.stat().st_ino
        except FileNotFoundError:
            if self._inode is None:
                return  # not made yet: the first connection creates it
            raise _FileGone(f"{self._file} is gone") from None
        if self._inode is None:
            self._inode = inode
        elif inode != self._inode:
            log.warning("the database file %s was replaced: reopening it", self._file)
            self.engine.dispose()
            self._inode = inode

    def run_sync(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run `fn(connection)` in one transaction, in this thread (CLI and startup)."""
        try:
            self._check_file()
            with self.engine.begin() as conn:
                result = fn(conn)
        except (SQLAlchemyError, _FileGone) as exc:
            transient = isinstance(exc, _FileGone) or is_transient(exc)
            if transient and self.available:
                self.available = False
                log.error("the database is unavailable; changes wait in memory and are retried")
            log.error("database error while %s: %s", what, describe(exc))
            # Not chained: a traceback of the cause (logged with a failed REGISTER, say)
            # would show the statement and the driver's DETAIL, which can hold a row.
            raise StoreError(
                f"database error while {what}: {exc.__class__.__name__}", transient=transient
            ) from None
        if not self.available:
            self.available = True
            log.warning("the database is back")
        return result

    async def run(self, fn: Callable[[Connection], T], what: str) -> T:
        """Run `fn(connection)` in one transaction on the database thread.

        Inside `retrying()`, a transient failure is retried (the same
        transaction, after a pause) until it works or the database closes.
        """
        if not _RETRYING.get():
            return await self.submit(fn, what)
        delay = RETRY_MIN
        while True:
            try:
                return await self.submit(fn, what)
            except StoreError as exc:
                if not exc.transient or self._closing:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def submit(self, fn: Callable[[Connection], T], what: str) -> asyncio.Future[T]:
        """Queue `fn(connection)` on the database thread now (run() queues when awaited).

        The thread runs what it is given in order, so whatever is submitted
        later (a read) sees what was submitted before (a write behind).
        """
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self.run_sync, fn, what)

    def close(self) -> None:
        self._closing = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()
