"""Who may open a connection: per-address and per-network caps, and reconnect throttling.

Checked once, in `IRCConnection.connection_made`, before a byte is read:

- throttling: at most `throttle_connections` connection attempts from one
  address within `throttle_window` seconds. Every attempt counts, refused or
  not, so a client that keeps hammering stays refused until it has been
  quiet for a whole window (as fail2ban-style throttles do);
- `max_per_ip` open connections from one address;
- `max_per_cidr_v4` open connections from one IPv4 network of
  `cidr_v4_prefix` bits (a /24 by default) and `max_per_cidr_v6` from one
  IPv6 network of `cidr_v6_prefix` bits (a /64: what one IPv6 host usually
  gets, so per-address limits alone mean nothing there).

Addresses and networks in `per_ip_exempt` (e.g. "127.0.0.1", "10.0.0.0/8")
are not counted by any of them. An IPv4-mapped IPv6 address (::ffff:1.2.3.4,
seen on a dual-stack listener) counts as its IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, deque
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from words.config import Limits

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

THROTTLED = "Throttled: reconnecting too fast"
TOO_MANY_FROM_HOST = "Too many connections from your host"
TOO_MANY_FROM_NETWORK = "Too many connections from your network"


class Refused(Exception):
    """The connection may not stay; `str()` is the reason the client is told."""


@dataclass(frozen=True, slots=True)
class Admission:
    """What an admitted connection holds against the caps until it closes."""

    address: str
    network: str


@lru_cache(maxsize=64)
def _exempt_networks(exempt: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in exempt)


def check_exempt_entry(entry: str) -> str | None:
    """Why `entry` is not an address or CIDR network, or None if it is (for the config)."""
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)  # parsed once per recent peer address, not per connection
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return None  # not an IP peer (a Unix socket): nothing to count
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ConnectionLimiter:
    """Counts open connections per address and per network, and recent attempts per address."""

    def __init__(self) -> None:
        self.per_ip: Counter[str] = Counter()
        self.per_network: Counter[str] = Counter()
        # address -> times of its last attempts (at most throttle_connections of them)
        self._attempts: dict[str, deque[float]] = {}

    def admit(self, peer: str, limits: Limits, now: float) -> Admission | None:
        """Count a new connection from `peer`; Refused if it must go, None if exempt."""
        address = _address(peer)
        if address is None or any(address in net for net in _exempt_networks(tuple(limits.per_ip_exempt))):
            return None
        ip = str(address)
        self._throttle(ip, limits, now)
        if address.version == 4:
            prefix, cap = limits.cidr_v4_prefix, limits.max_per_cidr_v4
        else:
            prefix, cap = limits.cidr_v6_prefix, limits.max_per_cidr_v6
        network = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
        if self.per_ip[ip] >= limits.max_per_ip:
            raise Refused(TOO_MANY_FROM_HOST)
        if self.per_network[network] >= cap:
            raise Refused(TOO_MANY_FROM_NETWORK)
        self.per_ip[ip] += 1
        self.per_network[network] += 1
        return Admission(ip, network)

    def release(self, admission: Admission) -> None:
        """The connection closed: it no longer counts against the caps."""
        for counter, key in ((self.per_ip, admission.address), (self.per_network, admission.network)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

    def _throttle(self, ip: str, limits: Limits, now: float) -> None:
        attempts = self._attempts.get(ip)
        if attempts is None or attempts.maxlen != limits.throttle_connections:
            attempts = self._attempts[ip] = deque(attempts or (), maxlen=limits.throttle_connections)
        full = len(attempts) == attempts.maxlen and now - attempts[0] < limits.throttle_window
        attempts.append(now)  # refused attempts count too: hammering keeps it throttled
        if full:
            raise Refused(THROTTLED)

    def forget_old_attempts(self, limits: Limits, now: float) -> None:
        """Drop addresses whose last attempt is older than the window (called by the sweep)."""
        window = limits.throttle_window
        stale = [ip for ip, attempts in self._attempts.items() if now - attempts[-1] >= window]
        for ip in stale:
            del self._attempts[ip]

    @property
    def tracked_addresses(self) -> int:
        """How many addresses the throttle remembers (bounded by the sweep; for tests)."""
        return len(self._attempts)
