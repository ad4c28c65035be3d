"""Fixtures for the XMPP gateway: a words server with an `xmpp:` section on the session Prosody."""

from __future__ import annotations

import itertools

import pytest
from gateway_support import Inbox, gateway_config
from xmpp_support import DOMAIN, connect_client, disconnect_client

_names = itertools.count(1)


@pytest.fixture
async def gateway_server(start_server, prosody):
    """A words server whose gateway is connected to the session Prosody (guests allowed)."""

    async def start(limits=None, config=None, **xmpp):
        """`config`: other Config fields (opers, ...); `xmpp`: fields of the xmpp: section."""
        extra = {"limits": limits} if limits else {}
        extra.update(config or {})
        server = await start_server(xmpp=gateway_config(prosody, **xmpp), **extra)
        await server.gateway.wait_connected(15)
        return server

    return start


@pytest.fixture
async def xmpp_user(prosody):
    """`await xmpp_user("alice")`: a logged-in slixmpp client (unique JID) and its Inbox
    (`domain=OTHER_DOMAIN`: a user of the second host)."""
    clients = []

    async def open_client(name: str, password: str = "secretpw", domain: str = DOMAIN):
        jid_name = f"{name}{next(_names)}"
        client = await connect_client(prosody, jid_name, password, domain=domain)
        clients.append(client)
        client.inbox = Inbox(client)
        return client

    yield open_client
    for client in clients:
        await disconnect_client(client)

