"""Flood control: a token bucket in front of every line the client sends.

Defaults: a burst of 5 lines, then 1 line per second, the pace most IRC
servers tolerate before they disconnect a client for flooding. PONG (and
anything else sent with `priority=True`) goes out at once, never behind the
queue: a bot busy paging a long answer must not time out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_BURST", "DEFAULT_RATE", "SendQueue", "TokenBucket"]

DEFAULT_BURST = 5
DEFAULT_RATE = 1.0  # lines per second once the burst is spent


@dataclass
class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; one token per line."""

    burst: float = DEFAULT_BURST
    rate: float = DEFAULT_RATE
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        if self.burst < 1 or self.rate <= 0:
            raise ValueError("burst must be at least 1 and rate positive")
        self.tokens = float(self.burst)
        self.updated = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def delay(self) -> float:
        """Seconds until a token is available (0 if one is now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> bool:
        """Take a token if one is available."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def take_anyway(self) -> None:
        """Count a line sent regardless (priority): it uses a token if there is one,
        but never borrows, so PONGs and registration do not delay what follows."""
        self._refill()
        self.tokens = max(self.tokens - 1, 0.0)


class SendQueue:
    """Queues lines and hands them to `write` at the bucket's pace.

    Uses one timer handle rather than a task, so nothing is left running once
    the queue is empty or cleared.
    """

    def __init__(self, write: Callable[[bytes], None], bucket: TokenBucket | None = None) -> None:
        self.write = write
        self.bucket = bucket or TokenBucket()
        self.queue: deque[bytes] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._empty: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self.queue)

    def send(self, data: bytes, priority: bool = False) -> None:
        if priority:
            self.bucket.take_anyway()
            self.write(data)
            return
        if not self.queue and self.bucket.take():
            self.write(data)
            return
        self.queue.append(data)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self.queue:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.bucket.delay(), self._drain)

    def _drain(self) -> None:
        self._timer = None
        while self.queue and self.bucket.take():
            self.write(self.queue.popleft())
        self._schedule()
        if not self.queue and self._empty is not None:
            self._empty.set()

    async def wait_empty(self) -> None:
        """Until everything queued has been written (or dropped)."""
        if self.queue:
            self._empty = self._empty if self._empty and not self._empty.is_set() else asyncio.Event()
            await self._empty.wait()

    def clear(self) -> None:
        """Drop what is queued (the connection is gone)."""
        self.queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._empty is not None:
            self._empty.set()
