"""Per-plugin storage: JSON values by key, plugins kept apart, atomic updates, off the loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bots.storage import Storage


@pytest.mark.parametrize("where", ["memory", "file"])
async def test_values_keys_and_plugins(where, tmp_path):
    storage = Storage(":memory:" if where == "memory" else str(tmp_path / "s.sqlite"))
    try:
        a, b = storage.plugin("a"), storage.plugin("b")
        await a.set("x", {"n": 1, "list": [1, "two"]})
        await a.set("y%_", 2)  # LIKE wildcards in keys are literal in items()
        await b.set("x", "b's own")
        assert await a.get("x") == {"n": 1, "list": [1, "two"]}
        assert await b.get("x") == "b's own"
        assert await a.get("missing", 7) == 7
        assert await a.items("y%") == [("y%_", 2)]
        assert await a.items("y_") == []
        await a.delete("x")
        assert await a.get("x") is None
    finally:
        storage.close()


async def test_updates_are_atomic_and_run_in_threads():
    storage = Storage()  # :memory: shared by every worker thread
    counter = storage.plugin("counter")
    threads: set[str] = set()

    def bump(value: int) -> int:
        threads.add(threading.current_thread().name)
        return value + 1

    await asyncio.gather(*(counter.update("n", bump, 0) for _ in range(50)))
    assert await counter.get("n") == 50
    assert threading.main_thread().name not in threads  # never on the event loop's thread
    assert await counter.update("n", lambda v: None) is None  # None deletes
    assert await counter.get("n") is None
    storage.close()
