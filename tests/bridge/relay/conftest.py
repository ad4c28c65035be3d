"""Fixtures of the relay tests: a relay in this process, XMPP users in rooms.

The words server is the `server` fixture (or a restartable one), Prosody the
session's `prosody` fixture (or a test's own when it restarts it). Rooms get
fresh names per test: the session's Prosody outlives every test. Helpers are
in tests/relay_support.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from relay_support import XMPPUser, join_room
from xmpp_support import connect_client, disconnect_client

from bridge.relay.config import parse_config
from bridge.relay.service import Relay


@pytest.fixture
async def start_relay():
    """`await start_relay(config_dict)`: a Relay running in this loop, every pair joined."""
    running: list[tuple[Relay, asyncio.Task]] = []

    async def start(raw: dict[str, Any]) -> Relay:
        relay = Relay(parse_config(raw, "test-bridge.yaml"))
        task = asyncio.ensure_future(relay.run())
        running.append((relay, task))
        try:
            await relay.wait_ready(20)
        except TimeoutError:
            if task.done():
                task.result()
            raise
        return relay

    yield start
    for relay, task in running:
        relay.stop()
        assert await asyncio.wait_for(task, 15) == 0


@pytest.fixture
async def xmpp_user(prosody):
    """`await xmpp_user("carol", room)`: a logged-in user who joined `room`."""
    users: list[XMPPUser] = []

    async def make(name: str, room: str, server=None) -> XMPPUser:
        client = await connect_client(server or prosody, name, name + "pw")
        user = XMPPUser(client, room, name)
        users.append(user)
        await join_room(user)
        return user

    yield make
    for user in users:
        await disconnect_client(user.client)
