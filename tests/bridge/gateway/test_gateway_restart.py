"""The XMPP server restarts: the component comes back, and IRC users see no flapping."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re

import pytest
from gateway_support import Inbox, gateway_config, join, room
from support import RawClient, wait_until
from support import join as irc_join
from xmpp_support import ProsodyServer, connect_client, disconnect_client


@pytest.fixture
def own_prosody():
    """A Prosody of this test alone, to stop and start (the session one stays up)."""
    server = ProsodyServer()
    server.start()
    yield server
    server.close()


async def xmpp_client(prosody, name: str):
    client = await connect_client(prosody, name, "secretpw")
    client.inbox = Inbox(client)
    return client


async def test_a_restart_within_the_grace_time_is_invisible_on_irc(start_server, own_prosody):
    server = await start_server(xmpp=gateway_config(own_prosody, grace_seconds=60))
    gateway = server.gateway
    await gateway.wait_connected(15)
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    await irc_join(bob, "#restart")
    alice = await xmpp_client(own_prosody, "alice")
    try:
        await join(alice, "#restart", "alice")
        await bob.expect("JOIN")
        user = server.realm.find_user("alice")

        own_prosody.stop()
        await wait_until(lambda: not gateway.connected.is_set(), "the link to go down")
        await disconnect_client(alice)
        own_prosody.start()
        await gateway.wait_connected(15)
        assert gateway.link.connects == 2

        # The client comes back and rejoins: the same IRC user, no JOIN, PART or QUIT.
        alice = await xmpp_client(own_prosody, "alice")
        result = await join(alice, "#restart", "alice")
        assert result.presence["muc"]["status_codes"] == {110}
        assert server.realm.find_user("alice") is user
        assert [m.command for m in await bob.until_pong()] == []
        alice.send_message(room("#restart"), "still here", mtype="groupchat")
        line = await bob.expect("PRIVMSG")
        assert line.source.startswith("alice!") and line.params == ["#restart", "still here"]
        await bob.send("PRIVMSG #restart :welcome back")
        await alice.inbox.message("welcome back", f"{room('#restart')}/bob")
    finally:
        await disconnect_client(alice)
        await bob.close()


async def test_past_the_grace_time_xmpp_users_quit(start_server, own_prosody):
    grace = 1.0
    server = await start_server(xmpp=gateway_config(own_prosody, grace_seconds=grace))
    gateway = server.gateway
    await gateway.wait_connected(15)
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    await irc_join(bob, "#outage")
    alice = await xmpp_client(own_prosody, "alice")
    loop = asyncio.get_running_loop()
    try:
        await join(alice, "#outage", "alice")
        await bob.expect("JOIN")
        # stop() blocks this loop until Prosody is gone: the gateway hears of the drop
        # only after `dropped`, so its grace cannot have started earlier.
        own_prosody.stop()
        dropped = loop.time()
        assert [m.command for m in await bob.until_pong()] == []  # not at once
        # Prosody may tell the gateway first (the client was disconnected) or not
        # (the link went down first): either way she leaves once the grace is over.
        gone = await bob.read_message(timeout=grace + 10)
        assert loop.time() - dropped >= grace
        assert gone.source.startswith("alice!")
        assert (gone.command, gone.params) in (
            ("PART", ["#outage", "Disconnected: Received SIGTERM"]),
            ("QUIT", ["XMPP gateway unreachable"]),
        )
        await wait_until(lambda: server.realm.find_user("alice") is None, "alice to sign off")
        own_prosody.start()
        await gateway.wait_connected(15)  # it keeps trying, with backoff
    finally:
        await disconnect_client(alice)
        await bob.close()


async def test_a_dropped_link_restores_the_clients_still_joined(start_server, own_prosody):
    server = await start_server(xmpp=gateway_config(own_prosody, grace_seconds=60))
    gateway = server.gateway
    await gateway.wait_connected(15)
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    await irc_join(bob, "#kept")
    alice = await xmpp_client(own_prosody, "alice")
    dave = None
    try:
        await join(alice, "#kept", "alice")
        await bob.expect("JOIN")
        gateway.xmpp.abort()  # the component link breaks; Prosody and alice stay up
        await wait_until(lambda: not gateway.connected.is_set(), "the link to go down")
        bob_left = bob  # bob parts and dave joins while the link is down
        await bob_left.send("PART #kept")
        dave = await RawClient.connect(server.port)
        await dave.register("dave")
        await irc_join(dave, "#kept")
        await gateway.wait_connected(15)
        # Pinged from the room, alice answers and is brought up to date.
        left = await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]) == f"{room('#kept')}/bob"
            and s["type"] == "unavailable", "bob gone")
        assert left["muc"]["role"] == "none"
        await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]) == f"{room('#kept')}/dave"
            and s["type"] != "unavailable", "dave there")
        assert [m.command for m in await dave.until_pong()] == []  # no flapping of alice
        alice.send_message(room("#kept"), "back", mtype="groupchat")
        assert (await dave.expect("PRIVMSG")).params == ["#kept", "back"]
    finally:
        await disconnect_client(alice)
        await bob.close()
        if dave is not None:
            await dave.close()


async def test_a_wrong_secret_is_logged_and_retried(start_server, prosody, caplog):
    caplog.set_level(logging.INFO, "bridge.gateway")
    server = await start_server(xmpp=gateway_config(prosody, secret="not-the-secret"))
    await wait_until(
        lambda: any("refused the component irc.localhost: not-authorized" in r.getMessage()
                    for r in caplog.records), "the refusal in the log")
    assert not server.gateway.connected.is_set()
    await wait_until(
        lambda: sum("reconnecting to" in r.getMessage() for r in caplog.records) >= 2,
        "a second attempt")
    assert not server.gateway.connected.is_set()


async def test_the_reconnect_wait_doubles_up_to_the_maximum_and_starts_over(
        start_server, own_prosody, caplog):
    caplog.set_level(logging.INFO, "bridge.gateway")
    own_prosody.stop()  # its ports stay known and closed: each attempt is refused
    server = await start_server(xmpp=gateway_config(own_prosody, reconnect_min=0.2,
                                                    reconnect_max=0.8))
    gateway = server.gateway

    def records(text: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if text in r.getMessage()]

    await wait_until(lambda: len(records("cannot connect")) >= 5, "five refused attempts",
                     timeout=30)
    waits = [float(re.search(r" in ([\d.]+)s$", r.getMessage()).group(1))
             for r in records("reconnecting to")]
    assert waits[:5] == [0.2, 0.4, 0.8, 0.8, 0.8]
    # Lower bounds only: an attempt never comes before its wait is over (a loaded
    # machine only makes the gaps longer). 10 ms for the clocks' rounding.
    failed = [r.created for r in records("cannot connect")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(failed)]
    for gap, wait in zip(gaps[:4], waits):
        assert gap >= wait - 0.01, (gaps, waits)

    # Once a link was up, the next wait starts over from reconnect_min.
    own_prosody.start()
    await gateway.wait_connected(15)
    caplog.clear()
    gateway.xmpp.abort()
    await wait_until(lambda: records("reconnecting to"), "the retry after the drop")
    assert records("reconnecting to")[0].getMessage().endswith(" in 0.2s")
    await gateway.wait_connected(15)
