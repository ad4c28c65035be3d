"""The relay process: the IRC clients, the XMPP sessions and the pairs between them.

One IRC connection per network and one XMPP session per account, whatever
the number of pairs using them. `run()` lasts until `stop()` (SIGINT or
SIGTERM from the command line) or until a side gives up for good (a refused
password); a side that merely lost its connection keeps trying.
"""

from __future__ import annotations

import asyncio
import logging

from bots.connector import Backoff, ConnectionFailed, Connector, FatalError
from bridge.relay.config import RelayConfig
from bridge.relay.irc import RelayIRCClient
from bridge.relay.pair import Pair
from bridge.relay.xmpp import XMPPSession

__all__ = ["Relay"]

log = logging.getLogger("bridge.relay")


class Relay:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        used_irc = {p.irc for p in config.pairs}
        used_xmpp = {p.xmpp for p in config.pairs}
        self.irc = {name: RelayIRCClient(net) for name, net in config.irc.items()
                    if name in used_irc}
        self.xmpp = {name: XMPPSession(acc) for name, acc in config.xmpp.items()
                     if name in used_xmpp}
        for name in sorted(set(config.irc) - used_irc):
            log.warning("IRC network %s is in no pair: not connecting", name)
        for name in sorted(set(config.xmpp) - used_xmpp):
            log.warning("XMPP account %s is in no pair: not connecting", name)
        self.pairs = [Pair(p, self.irc[p.irc], self.xmpp[p.xmpp]) for p in config.pairs]
        for pair in self.pairs:
            self.irc[pair.config.irc].add_pair(pair)
            self.xmpp[pair.config.xmpp].add_pair(pair)
        self.connectors = {
            name: Connector(
                client, config.irc[name].server, config.irc[name].port, tls=config.irc[name].tls,
                backoff=Backoff(initial=config.irc[name].reconnect.initial,
                                max_delay=config.irc[name].reconnect.max_delay),
                stable_after=30.0,
            )
            for name, client in self.irc.items()
        }

    def ready(self) -> bool:
        """Every paired channel and room is joined."""
        return all(c.joined_channels.is_set() for c in self.irc.values()) and all(
            s.all_joined.is_set() for s in self.xmpp.values())

    async def wait_ready(self, timeout: float = 30.0) -> None:
        waits = [c.joined_channels.wait() for c in self.irc.values()]
        waits += [s.all_joined.wait() for s in self.xmpp.values()]
        await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def stop(self) -> None:
        for connector in self.connectors.values():
            connector.stop("relay stopping")
        for session in self.xmpp.values():
            session.stop()

    async def run(self) -> int:
        """0 once stopped; 1 if a side gave up (the others are stopped then too)."""
        names = [f"IRC network {n}" for n in self.connectors]
        names += [f"XMPP account {n}" for n in self.xmpp]
        runs = [asyncio.ensure_future(c.run()) for c in self.connectors.values()]
        runs += [asyncio.ensure_future(s.run()) for s in self.xmpp.values()]
        status = 0
        pending = set(runs)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is None:
                    continue
                name = names[runs.index(task)]
                if isinstance(error, (ConnectionFailed, FatalError)):
                    log.error("%s: %s", name, error)
                else:
                    log.error("%s crashed", name, exc_info=error)
                if status == 0:
                    status = 1
                    self.stop()  # half a relay would silently drop one side's messages
        for client in self.irc.values():
            client.cancel_timers()
        return status
