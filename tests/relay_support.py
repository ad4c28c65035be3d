"""Helpers of the relay tests (tests/bridge/relay): configs, rooms, XMPP users.

Fixtures using them are in tests/bridge/relay/conftest.py.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

TIMEOUT = 10.0
RELAY_JID_USER, RELAY_PASSWORD = "relay", "relaypw"


def fresh_room(prosody, stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}@{prosody.muc_domain}"


def relay_config(irc_port: int, prosody, pairs: list[dict[str, Any]],
                 irc: dict[str, Any] | None = None, **account: Any) -> dict[str, Any]:
    """A relay config dict: network `local` (with `irc` settings on top), account `main`
    (with `account` settings on top), the given pairs."""
    prosody.register(RELAY_JID_USER, RELAY_PASSWORD)
    return {
        "irc": {"local": {"server": "127.0.0.1", "port": irc_port, "tls": False,
                          "nick": "relay", "flood": {"burst": 20, "rate": 20},
                          "reconnect": {"initial": 0.1, "max": 0.5}, **(irc or {})}},
        "xmpp": {"main": {"jid": f"{RELAY_JID_USER}@{prosody.domain}",
                          "password": RELAY_PASSWORD, "host": "127.0.0.1",
                          "port": prosody.c2s_port, "tls": "plaintext",
                          "reconnect": {"initial": 0.1, "max": 0.5}, **account}},
        "pairs": [{"irc": "local", "xmpp": "main", "nick": "irc", **p} for p in pairs],
    }


@dataclass
class XMPPUser:
    """A slixmpp client in one room, with what the room sends it queued."""

    client: Any
    room: str
    nick: str
    messages: asyncio.Queue = field(default_factory=asyncio.Queue)
    subjects: asyncio.Queue = field(default_factory=asyncio.Queue)
    hooked: bool = False

    def say(self, body: str) -> None:
        self.client.send_message(mto=self.room, mbody=body, mtype="groupchat")

    async def next_message(self, timeout: float = TIMEOUT) -> tuple[str, str]:
        """(nick, body) of the next groupchat message not our own reflection."""
        while True:
            msg = await asyncio.wait_for(self.messages.get(), timeout)
            if msg["mucnick"] != self.nick:
                return msg["mucnick"], msg["body"]

    async def next_subject(self, timeout: float = TIMEOUT, own: bool = False) -> tuple[str, str]:
        """(nick, subject) of the next subject change (our own only if `own`)."""
        while True:
            msg = await asyncio.wait_for(self.subjects.get(), timeout)
            if own or msg["mucnick"] != self.nick:
                return msg["mucnick"], msg["subject"]


async def join_room(user: XMPPUser) -> None:
    """Join (or rejoin) the user's room; messages and subjects after the join are queued."""
    def on_message(msg) -> None:
        if msg["from"].bare == user.room and not msg.get_plugin("delay", check=True):
            user.messages.put_nowait(msg)

    def on_subject(msg) -> None:
        if msg["from"].bare == user.room:
            user.subjects.put_nowait(msg)

    await user.client.plugin["xep_0045"].join_muc_wait(
        user.room, user.nick, maxstanzas=0, timeout=TIMEOUT)
    if not user.hooked:
        user.client.add_event_handler("groupchat_message", on_message)
        user.client.add_event_handler("groupchat_subject", on_subject)
        user.hooked = True
