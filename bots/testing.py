"""Helpers for testing bots: a client that records its events and lets a test wait for one.

Used by the bots test suite and by plugin authors (see `bot_harness` in
tests/bots/conftest.py). Waits have deadlines; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bots.client import IRCClient

__all__ = ["RecordingClient", "RecordingMixin"]


class RecordingMixin:
    """Records every event method call as (name, args)."""

    def _fire(self, name: str, *args) -> None:
        self.__dict__.setdefault("events", []).append((name, args))
        self.__dict__.setdefault("_event_flag", asyncio.Event()).set()
        super()._fire(name, *args)  # type: ignore[misc]

    async def wait_event(self, name: str, pred: Callable[..., bool] = lambda *a: True,
                         timeout: float = 5.0, start: int = 0) -> tuple:
        """The args of the first `name` event (from index `start`) satisfying `pred`."""
        flag = self.__dict__.setdefault("_event_flag", asyncio.Event())
        events = self.__dict__.setdefault("events", [])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for event, args in events[start:]:
                if event == name and pred(*args):
                    return args
            flag.clear()
            left = deadline - loop.time()
            if left <= 0:
                names = [e for e, _ in events[start:]]
                raise AssertionError(f"no {name} event within {timeout}s; got {names}")
            try:
                await asyncio.wait_for(flag.wait(), left)
            except TimeoutError:
                pass

    def mark(self) -> int:
        """An index to pass as `start`: only events after now."""
        return len(self.__dict__.setdefault("events", []))


class RecordingClient(RecordingMixin, IRCClient):
    pass
