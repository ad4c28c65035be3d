"""Login throttling: failures counted per account name and per client address.

Each key has a sliding window of failure times. Past the limit, logins for
that key are refused at once (LoginThrottled) until old failures age out of
the window. The names counted are the ones tried, existing or not, so the
throttle is no oracle. Counting per connection is the front end's job (it
closes the connection after a few failures).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    account_failures: int = 5  # failures per account name within `window`
    address_failures: int = 20  # failures per client address within `window`
    window: float = 60.0  # seconds
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, account: str | None, address: str | None) -> bool:
        now = self.clock()
        return (
            self._count(f"a:{account}", now) >= self.account_failures if account else False
        ) or (
            self._count(f"i:{address}", now) >= self.address_failures if address else False
        )

    def failed(self, account: str | None, address: str | None) -> None:
        now = self.clock()
        for key in (f"a:{account}" if account else None, f"i:{address}" if address else None):
            if key is not None:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str | None) -> None:
        if account:
            self._failures.pop(f"a:{account}", None)

    def _count(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failures[key]  # memory stays bounded by recent failures
            return 0
        return len(times)
