"""Helpers of the gateway tests: an inbox of stanzas to wait on, joining rooms, linking."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from words.config import XMPP


class Inbox:
    """Every message and presence a slixmpp client receives, to wait on with a deadline."""

    def __init__(self, client) -> None:
        self.client = client
        self.stanzas: list = []
        self._changed = asyncio.Event()
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        # Raw handlers: slixmpp's events skip some (room presences, errors, bodiless messages).
        for kind in ("message", "presence"):
            client.register_handler(Callback(
                f"inbox {kind}", MatchXPath(f"{{jabber:client}}{kind}"), self._add))
        self._seen: set[int] = set()
        self._kept: list = []

    def _add(self, stanza) -> None:
        if id(stanza.xml) not in self._seen:
            self._seen.add(id(stanza.xml))
            self._kept.append(stanza.xml)  # alive, so no later stanza reuses its id()
            self.stanzas.append(stanza)
        self._changed.set()

    async def expect(self, predicate, what: str, timeout: float = 10.0):
        """The first stanza received from now on (or already, after `mark`) matching `predicate`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for stanza in self.stanzas[seen:]:
                if predicate(stanza):
                    self.stanzas.remove(stanza)
                    return stanza
            seen = len(self.stanzas)
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; got {[str(s) for s in self.stanzas][-8:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def message(self, body: str, sender: str | None = None, timeout: float = 10.0):
        return await self.expect(
            lambda s: s.name == "message" and s["body"] == body
            and (sender is None or str(s["from"]) == sender),
            f"message {body!r} from {sender}", timeout)

    async def error(self, condition: str, timeout: float = 10.0):
        return await self.expect(
            lambda s: s["type"] == "error" and s["error"]["condition"] == condition,
            f"{condition} error", timeout)

    def clear(self) -> None:
        self.stanzas.clear()


async def irc_client(server, nick: str, *channels: str):
    """A raw IRC client of `server`, registered as `nick` and in `channels`."""
    from support import RawClient
    from support import join as irc_join

    client = await RawClient.connect(server.port)
    await client.register(nick)
    if channels:
        await irc_join(client, *channels)
    return client


def room(channel: str) -> str:
    return f"{channel}@irc.localhost"


@dataclass
class Joined:
    presence: Any  # our own presence
    subject: Any  # the subject message
    occupants: list  # the presences of those already there, in order
    history: list  # messages with <delay>


async def join(client, channel: str, nick: str, **options) -> Joined:
    """Join `channel` through the gateway, as slixmpp's join_muc_wait checks the sequence."""
    result = await client.plugin["xep_0045"].join_muc_wait(
        room(channel), nick, maxstanzas=options.pop("maxstanzas", 0), timeout=10, **options)
    return Joined(*result)


def subject_of(msg) -> str | None:
    """The text of a message's <subject/> ("" when empty), None without one."""
    element = msg.xml.find("{jabber:client}subject")
    return None if element is None else (element.text or "")


MUC_USER = "{http://jabber.org/protocol/muc#user}"


def item_of(presence):
    """The <item/> of a room presence's muc#user payload."""
    return presence.xml.find(f"{MUC_USER}x/{MUC_USER}item")


async def register(client, username: str | None, password: str | None, remove: bool = False):
    """XEP-0077 with the component: link the client's JID (or, with `remove`, unlink it)."""
    import xml.etree.ElementTree as ET

    ns = "{jabber:iq:register}"
    iq = client.make_iq_set(ito="irc.localhost")
    query = ET.Element(f"{ns}query")
    if remove:
        ET.SubElement(query, f"{ns}remove")
    else:
        ET.SubElement(query, f"{ns}username").text = username
        ET.SubElement(query, f"{ns}password").text = password
    iq.append(query)
    return await iq.send(timeout=10)


def gateway_config(prosody, **overrides) -> XMPP:
    values = {
        "component": prosody.component_domain, "secret": prosody.secret,
        "host": "127.0.0.1", "port": prosody.component_port,
        "reconnect_min": 0.2, "reconnect_max": 1.0, **overrides,
    }
    return XMPP(**values)
