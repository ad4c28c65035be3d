"""K-lines (user@host) and D-lines (address or CIDR): server-wide bans set by opers.

A D-line refuses a connection as soon as it is made and disconnects matching
clients at once; a K-line disconnects a matching user@host when it registers
and at once. Both may expire (`KLINE 2h ...`). With the SQL realm they are
stored (`server_bans` table) and loaded at start; otherwise they live in memory
until the server stops. A change made while the database is away is in force at
once and stored when the database is back (the realm's write-behind). Expired
bans are ignored (and dropped when next seen).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from words.masks import match_mask
from words.store.database import StoreError
from words.store.serverbans import ServerBanRecord as ServerBan

if TYPE_CHECKING:
    from words.store.serverbans import ServerBanStore

log = logging.getLogger("words.irc")

__all__ = ["ServerBan", "ServerBans", "Stored", "format_duration", "parse_duration"]

# Seconds an oper's ban change may take to be stored before the oper is told it waits
# for the database (a write queued behind others, or the first to find it away).
STORE_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of a ban change in the database.

    `state`: "stored"; "memory" (no database: lost at restart); "waiting" (the
    database is away: kept in memory, retried in order with the realm's other
    changes, stored when it is back unless the server stops first); "refused"
    (the database refused it, `error` says why: lost at restart).
    """

    state: str
    error: str | None = None

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+[smhdw])+$")


def parse_duration(text: str) -> int | None:
    """'10m', '2h', '1d', '1h30m', '90s' -> seconds; a bare number is minutes (as ircds); else None."""
    text = text.lower()
    if text.isdecimal():  # not isdigit(): int('¹') raises
        return int(text) * 60 if int(text) > 0 else None
    if not _DURATION.match(text):
        return None
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    return seconds or None


def format_duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def parse_network(mask: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An address or CIDR for a D-line, or None if it is neither."""
    try:
        return ipaddress.ip_network(mask, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # parsed once per recent peer address, not per connection
def _address(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class ServerBans:
    """The K-lines and D-lines in force, and their store (None: in memory only)."""

    def __init__(self, store: ServerBanStore | None = None, casefold=str.lower) -> None:
        self.store = store
        self.casefold = casefold
        self._bans: dict[tuple[str, str], ServerBan] = {}  # (kind, folded mask) -> ban
        self._networks: dict[str, object] = {}  # D-line mask -> its network

    async def load(self) -> None:
        if self.store is None:
            return
        for ban in await self.store.all():
            self._put(ban)
        log.info("loaded %d server bans", len(self._bans))

    async def reload(self) -> list[ServerBan]:
        """The store's bans replace those in memory (this node may have missed other
        nodes' changes: a cluster node cut off from Redis); returns the ones new here.
        If the database cannot be read, the bans in memory stay."""
        if self.store is None:
            return []
        try:
            bans = await self.store.all()
        except StoreError as exc:
            log.error("server bans not reloaded: %s", exc)
            return []
        known = {(key, ban.set_at) for key, ban in self._bans.items()}
        self._bans.clear()
        self._networks.clear()
        for ban in bans:
            self._put(ban)
        log.info("reloaded %d server bans", len(self._bans))
        return [ban for key, ban in self._bans.items() if (key, ban.set_at) not in known]

    def _put(self, ban: ServerBan) -> None:
        self._bans[(ban.kind, self.casefold(ban.mask))] = ban
        if ban.kind == "d":
            self._networks[ban.mask] = parse_network(ban.mask)

    def learn(self, kind: str, mask: str, ban: ServerBan | None) -> ServerBan | None:
        """Put `ban` in force, or lift the one of (kind, mask) when `ban` is None, in
        memory only: a change another node made and stored. Returns the lifted ban."""
        if ban is not None:
            self._put(ban)
            return None
        lifted = self._bans.pop((kind, self.casefold(mask)), None)
        if lifted is not None:
            self._networks.pop(lifted.mask, None)
        return lifted

    def active(self, kind: str, now: float | None = None) -> list[ServerBan]:
        """The bans of `kind` in force now, oldest first; expired ones are forgotten."""
        now = time.time() if now is None else now
        for key, ban in list(self._bans.items()):
            if ban.expires is not None and ban.expires <= now:
                del self._bans[key]
                self._networks.pop(ban.mask, None)
        return sorted((b for b in self._bans.values() if b.kind == kind), key=lambda b: b.set_at)

    def find_dline(self, host: str) -> ServerBan | None:
        if not self._networks:
            return None  # no D-line: nothing to parse (checked on every connection)
        address = _address(host)
        if address is None:
            return None
        for ban in self.active("d"):
            network = self._networks.get(ban.mask)
            if network is not None and address.version == network.version and address in network:
                return ban
        return None

    def find_kline(self, username: str, hosts: list[str]) -> ServerBan | None:
        """The K-line matching `username@host` for any of `hosts` (real address, cloak)."""
        klines = self.active("k")
        if not klines:
            # Nothing to fold: every user@host folded would fill the shared casefold
            # cache with strings seen once (bench/soak.py saw RSS climb with it).
            return None
        masks = [self.casefold(f"{username}@{host}") for host in hosts]
        for ban in klines:
            pattern = self.casefold(ban.mask)
            if any(match_mask(pattern, mask) for mask in masks):
                return ban
        return None

    async def add(self, ban: ServerBan) -> Stored:
        """Put `ban` in force (replacing one with its mask) and store it."""
        self._put(ban)
        if self.store is None:
            return Stored("memory")
        return await self._store(self.store.save(ban), f"the {ban.kind.upper()}-line {ban.mask}")

    async def remove(self, kind: str, mask: str) -> tuple[bool, Stored]:
        """Lift a ban: (whether one was in force, what became of its removal in the store)."""
        ban = self.learn(kind, mask, None)
        if self.store is None:
            return ban is not None, Stored("memory")
        what = f"the removal of the {kind.upper()}-line {mask}"
        return ban is not None, await self._store(self.store.remove(kind, mask), what)

    async def _store(self, change: Coroutine[Any, Any, Any], what: str) -> Stored:
        """Run `change` in the realm's write-behind (retried while the database is away)
        and wait a moment for it: the oper hears whether it is stored or still waits."""
        assert self.store is not None
        done = self.store.write_behind(change)
        if self.store.db.available:  # else it waits for the database: no use waiting here
            try:
                await asyncio.wait_for(asyncio.shield(done), STORE_WAIT)
            except StoreError as exc:  # refused by the database (the write-behind logged it)
                return Stored("refused", str(exc))
            except TimeoutError:
                pass
            else:
                return Stored("stored")
        log.warning("%s waits for the database, in memory, and is stored when it is back", what)
        done.add_done_callback(lambda future: _stored_late(future, what))
        return Stored("waiting")


def _stored_late(future: asyncio.Future, what: str) -> None:
    if not future.cancelled() and future.exception() is None:
        log.info("%s is stored now", what)
