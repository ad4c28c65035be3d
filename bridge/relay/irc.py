"""The IRC side: one `bots.IRCClient` per network, shared by the pairs on it.

Registration, SASL, the limiter, byte splitting and rejoining after a
reconnection are the bots framework's; this adds which channels are paired
and turns the channel events of other people into calls on their pairs.
Our own lines are never relayed back: with echo-message they arrive as
`echoed` (ignored), and anything else from our nick is dropped here.
"""

from __future__ import annotations

import asyncio
import logging

from bots.client import IRCClient
from bots.split import text_budget
from bridge.relay.config import IRCNetwork
from bridge.relay.pair import Pair
from words.cred.credentials import UsernamePassword
from words.irc.codec import Message, split_source

__all__ = ["RelayIRCClient"]

log = logging.getLogger("bridge.relay.irc")

# A join refused (banned, +i, full...) is asked again this much later at the soonest.
JOIN_RETRY = 60.0


class RelayIRCClient(IRCClient):
    version_name = "words bridge relay"

    def __init__(self, network: IRCNetwork) -> None:
        creds = None
        if network.sasl_mechanism and network.sasl_mechanism != "EXTERNAL":
            creds = UsernamePassword(network.sasl_username or network.nick,
                                     network.sasl_password or "")
        super().__init__(
            network.nick, username=network.username, realname=network.realname,
            password=network.password, sasl_mechanism=network.sasl_mechanism,
            sasl_credentials=creds, burst=network.burst, rate=network.rate,
        )
        self.network = network
        self.pairs: list[Pair] = []
        self.keys: dict[str, str] = {}
        self.joined_channels = asyncio.Event()  # set while every paired channel is joined
        self._timers: set[asyncio.TimerHandle] = set()
        self.last_heard = 0.0  # loop time of the last line from the server
        self._keepalive: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"<RelayIRCClient {self.network.name} {self.nickname}>"

    def add_pair(self, pair: Pair) -> None:
        self.pairs.append(pair)
        folded = self.fold(pair.channel)
        # Joined at the end of the MOTD of every connection by the bots client.
        self.wanted_channels[folded] = pair.channel
        if pair.config.channel_key:
            self.keys[folded] = pair.config.channel_key

    def pairs_for(self, channel: str) -> list[Pair]:
        folded = self.fold(channel)
        return [p for p in self.pairs if self.fold(p.channel) == folded]

    def in_channel(self, channel: str) -> bool:
        return self.is_signed_on and self.fold(channel) in self.channels

    def join(self, channel: str, key: str | None = None) -> None:
        # The client's own rejoin after a reconnection knows no keys: ours does.
        super().join(channel, key or self.keys.get(self.fold(channel)))

    def later(self, delay: float, callback, *args) -> None:
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def _rejoin(self, channel: str) -> None:
        if self.is_signed_on and not self.quitting and not self.in_channel(channel):
            log.info("%s: rejoining %s", self.network.name, channel)
            self.join(channel)

    def _update_joined(self) -> None:
        if self.pairs and all(self.in_channel(p.channel) for p in self.pairs):
            self.joined_channels.set()
        else:
            self.joined_channels.clear()

    # -- what the pairs call ----------------------------------------------------------------

    def relay_budget(self, channel: str, action: bool = False, notice: bool = False) -> int:
        overhead = len("\x01ACTION \x01") if action else 0
        return text_budget(self.nickname, self.userhost, "NOTICE" if notice else "PRIVMSG",
                           channel, self.isupport.linelen, overhead)

    def relay_lines(self, channel: str, lines: list[str], kind: str = "PRIVMSG") -> bool:
        if not self.in_channel(channel):
            log.info("%s: not in %s, %d line(s) not relayed", self.network.name, channel,
                     len(lines))
            return False
        for line in lines:
            if kind == "ACTION":
                self.send("PRIVMSG", channel, f"\x01ACTION {line}\x01")
            else:
                self.send(kind, channel, line)
        return True

    def relay_topic(self, channel: str, topic: str) -> bool:
        if not self.in_channel(channel):
            return False
        chan = self.channels[self.fold(channel)]
        if chan.topic == topic:
            return False  # already so: no TOPIC line, no loop
        self.topic(channel, topic)
        return True

    # -- events -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self.last_heard = asyncio.get_running_loop().time()
        super().connection_made(transport)
        self._stop_keepalive()
        if self.transport is not None:
            self._keepalive = self.spawn(self._keep_alive(), name="keepalive")

    def signed_on(self) -> None:
        log.info("%s: signed on as %s", self.network.name, self.nickname)

    async def _keep_alive(self) -> None:
        """A connection that stalled without closing (a dead route, a frozen server)
        would keep the relay deaf until TCP gives up, many minutes later: after a quiet
        `ping_interval`, PING, and drop the connection if nothing comes back in time,
        so the connector makes a new one. From the first byte on: a server that
        accepts but never registers us is as dead (an early PING gets 451, a line)."""
        loop = asyncio.get_running_loop()
        interval, timeout = self.network.ping_interval, self.network.ping_timeout
        while self.transport is not None:
            quiet = loop.time() - self.last_heard
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            self.send("PING", "relay-keepalive", priority=True)
            asked = loop.time()
            await asyncio.sleep(timeout)
            if self.last_heard < asked and self.transport is not None:
                log.warning("%s: no answer to PING in %.0fs; reconnecting", self.network.name,
                            timeout)
                self.transport.abort()
                return

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
        self._keepalive = None

    def connection_closed(self, exc: Exception | None) -> None:
        self._stop_keepalive()
        self.cancel_timers()
        # A channel we were kicked from (or refused) is still paired: the next
        # connection joins it with the others.
        for pair in self.pairs:
            self.wanted_channels.setdefault(self.fold(pair.channel), pair.channel)
        self._update_joined()
        log.warning("%s: connection closed%s", self.network.name, f" ({exc})" if exc else "")

    def joined(self, channel: str) -> None:
        log.info("%s: joined %s", self.network.name, channel)
        self._update_joined()

    def left(self, channel: str) -> None:
        self._update_joined()

    def join_failed(self, channel: str, message: str) -> None:
        delay = max([JOIN_RETRY, *(p.options.rejoin_delay for p in self.pairs_for(channel))])
        log.error("%s: cannot join %s: %s; trying again in %.0fs", self.network.name, channel,
                  message, delay)
        if self.pairs_for(channel):
            self.later(delay, self._rejoin, channel)

    def kicked_from(self, channel: str, kicker: str, message: str) -> None:
        self._update_joined()
        pairs = self.pairs_for(channel)
        if pairs:
            delay = min(p.options.rejoin_delay for p in pairs)
            log.warning("%s: kicked from %s by %s (%s); rejoining in %.0fs", self.network.name,
                        channel, kicker, message, delay)
            self.later(delay, self._rejoin, channel)

    def _others(self, source: str, channel: str) -> tuple[str, list[Pair]]:
        nick = split_source(source)[0] if source else ""
        if not nick or self.is_me(nick) or not self.is_channel(channel):
            return nick, []
        return nick, self.pairs_for(channel)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        nick, pairs = self._others(user, channel)
        for pair in pairs:
            pair.from_irc_message(nick, message)

    def action(self, user: str, channel: str, data: str) -> None:
        nick, pairs = self._others(user, channel)
        for pair in pairs:
            pair.from_irc_action(nick, data)

    def user_joined(self, user: str, channel: str) -> None:
        for pair in self.pairs_for(channel):
            pair.from_irc_join(user)

    def user_kicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        for pair in self.pairs_for(channel):
            pair.from_irc_kick(kickee, kicker, message)

    def user_renamed(self, oldname: str, newname: str) -> None:
        folded = self.fold(newname)
        for pair in self.pairs:
            chan = self.channels.get(self.fold(pair.channel))
            if chan is not None and folded in chan.members:
                pair.from_irc_rename(oldname, newname)

    def topic_updated(self, user: str, channel: str, new_topic: str) -> None:
        # RPL_TOPIC on join comes as ours, and so does the TOPIC we set: neither is relayed.
        if self.is_me(user):
            return
        for pair in self.pairs_for(channel):
            pair.from_irc_topic(user, new_topic)

    def line_received(self, msg: Message) -> None:
        """PART and QUIT, before the client forgets who was where: the events it
        fires afterwards carry neither the part reason nor the quitter's channels."""
        self.last_heard = asyncio.get_running_loop().time()
        nick = msg.nick or ""
        if not nick or self.is_me(nick):
            return
        if msg.command == "PART" and msg.params:
            reason = msg.params[1] if len(msg.params) > 1 else ""
            for pair in self.pairs_for(msg.params[0]):
                pair.from_irc_part(nick, reason)
        elif msg.command == "QUIT":
            folded = self.fold(nick)
            reason = msg.params[0] if msg.params else ""
            for pair in self.pairs:
                chan = self.channels.get(self.fold(pair.channel))
                if chan is not None and folded in chan.members:
                    pair.from_irc_quit(nick, reason)
