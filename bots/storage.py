"""Per-plugin persistent storage: a JSON key-value table in SQLite, via SQLAlchemy.

Every call runs in a worker thread (asyncio.to_thread) so the event loop
never waits on the disk. Plugins needing their own tables get the engine
(`storage.engine`) and `await storage.run(fn)` to run any function off the loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

__all__ = ["PluginStorage", "Storage"]

T = TypeVar("T")

_metadata = MetaData()
_kv = Table(
    "plugin_data",
    _metadata,
    Column("plugin", String(100), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("value", Text, nullable=False),
)


class Storage:
    """One SQLite file (or any SQLAlchemy URL) shared by a bot's plugins."""

    def __init__(self, path_or_url: str = ":memory:") -> None:
        url = path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            options["connect_args"] = {"check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                # One connection for all worker threads: each new connection to
                # :memory: would be a new, empty database.
                options["poolclass"] = StaticPool
        # hide_parameters: a failed statement's error (logged) never shows the row.
        self.engine: Engine = create_engine(url, hide_parameters=True, **options)
        # SQLite writes from several threads: one at a time.
        self._lock = threading.Lock()
        _metadata.create_all(self.engine)

    def plugin(self, name: str) -> PluginStorage:
        return PluginStorage(self, name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    def close(self) -> None:
        self.engine.dispose()


class PluginStorage:
    """The keys of one plugin; values are anything JSON can hold."""

    def __init__(self, storage: Storage, plugin: str) -> None:
        self.storage = storage
        self.plugin = plugin

    @property
    def engine(self) -> Engine:
        return self.storage.engine

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.storage.run(fn, *args)

    def _get(self, key: str, default: Any) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_kv.c.value).where(_kv.c.plugin == self.plugin, _kv.c.key == key)
            ).first()
        return default if row is None else json.loads(row[0])

    def _set(self, key: str, value: Any) -> None:
        data = json.dumps(value)
        with self.engine.begin() as conn:
            conn.execute(delete(_kv).where(_kv.c.plugin == self.plugin, _kv.c.key == key))
            conn.execute(_kv.insert().values(plugin=self.plugin, key=key, value=data))

    def _delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_kv).where(_kv.c.plugin == self.plugin, _kv.c.key == key))

    def _items(self, prefix: str) -> list[tuple[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_kv.c.key, _kv.c.value)
                .where(_kv.c.plugin == self.plugin, _kv.c.key.startswith(prefix, autoescape=True))
                .order_by(_kv.c.key)
            ).all()
        return [(k, json.loads(v)) for k, v in rows]

    def _update(self, key: str, fn: Callable[[Any], Any], default: Any) -> Any:
        value = fn(self._get(key, default))
        if value is None:
            self._delete(key)
        else:
            self._set(key, value)
        return value

    async def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        """Read, change with `fn` (no awaiting inside), write back, atomically; None deletes."""
        return await self.run(self._update, key, fn, default)

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.run(self._get, key, default)

    async def set(self, key: str, value: Any) -> None:
        await self.run(self._set, key, value)

    async def delete(self, key: str) -> None:
        await self.run(self._delete, key)

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return await self.run(self._items, prefix)
