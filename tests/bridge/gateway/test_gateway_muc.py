"""The gateway end to end: a real Prosody, slixmpp clients and raw IRC clients in one chat."""

from __future__ import annotations

from gateway_support import join, room, subject_of
from support import RawClient
from support import join as irc_join


async def irc_client(server, nick: str) -> RawClient:
    client = await RawClient.connect(server.port)
    await client.register(nick)
    return client


async def test_join_both_ways_and_messages_with_ids(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#lobby")
        alice = await xmpp_user("alice")
        result = await join(alice, "#lobby", "alice")
        # Occupants first (bob, the channel operator), then alice herself with 110
        # (slixmpp lists her own presence last among the occupants).
        assert [str(p["from"]) for p in result.occupants] == [
            f"{room('#lobby')}/bob", f"{room('#lobby')}/alice"]
        assert result.occupants[0]["muc"]["role"] == "moderator"
        assert result.occupants[0]["muc"]["affiliation"] == "admin"
        assert result.presence["muc"]["status_codes"] == {110}
        assert subject_of(result.subject) == ""  # sent even when empty
        joined = await bob.expect("JOIN")
        assert joined.source.startswith("alice!alice")
        assert joined.params == ["#lobby"]

        # XMPP -> IRC, reflected to the sender with its id.
        alice.inbox.clear()
        msg = alice.make_message(room("#lobby"), "hello from xmpp", mtype="groupchat")
        msg["id"] = "xmpp-id-1"
        msg.send()
        line = await bob.expect("PRIVMSG")
        assert line.params == ["#lobby", "hello from xmpp"]
        echo = await alice.inbox.message("hello from xmpp", f"{room('#lobby')}/alice")
        assert echo["id"] == "xmpp-id-1"
        assert echo["type"] == "groupchat"

        # IRC -> XMPP.
        await bob.send("PRIVMSG #lobby :hello from irc")
        got = await alice.inbox.message("hello from irc", f"{room('#lobby')}/bob")
        assert got["type"] == "groupchat" and got["id"]

        # Parts both ways.
        await bob.send("PART #lobby :bye")
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "bob's part")
        assert str(gone["from"]) == f"{room('#lobby')}/bob"
        await bob.send("JOIN #lobby")
        await bob.expect("366")
        alice.plugin["xep_0045"].leave_muc(room("#lobby"), "alice", "see you")
        part = await bob.expect("PART")
        assert part.source.startswith("alice!") and part.params == ["#lobby", "see you"]
    finally:
        await bob.close()
