"""The gateway end to end: a real Prosody, slixmpp clients and raw IRC clients in one chat."""

from __future__ import annotations

import asyncio

from gateway_support import MUC_USER, irc_client, item_of, join, room, subject_of
from support import join as irc_join
from xmpp_support import disconnect_client, loopback_client


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
        assert item_of(result.occupants[0]).get("jid") is None  # semi-anonymous
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


async def test_me_and_actions_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#acts")
        alice = await xmpp_user("alice")
        await join(alice, "#acts", "alice")
        alice.send_message(room("#acts"), "/me waves", mtype="groupchat")
        line = await bob.expect("PRIVMSG")
        assert line.params == ["#acts", "\x01ACTION waves\x01"]
        await bob.send("PRIVMSG #acts :\x01ACTION bows\x01")
        await alice.inbox.message("/me bows", f"{room('#acts')}/bob")
    finally:
        await bob.close()


async def test_topic_and_subject_both_ways_with_plus_t(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#topics")
        await bob.send("TOPIC #topics :set on irc")
        await bob.expect("TOPIC")
        alice = await xmpp_user("alice")
        result = await join(alice, "#topics", "alice")
        assert subject_of(result.subject) == "set on irc"
        # +t (the default): alice is no operator, her subject is refused with a reason.
        subject = alice.make_message(room("#topics"), mtype="groupchat")
        subject["subject"] = "from xmpp"
        subject.send()
        error = await alice.inbox.error("forbidden")
        assert "operators" in error["error"]["text"]
        await bob.send("MODE #topics -t")
        await bob.expect("MODE")
        subject = alice.make_message(room("#topics"), mtype="groupchat")
        subject["subject"] = "from xmpp"
        subject.send()
        topic = await bob.expect("TOPIC")
        assert topic.source.startswith("alice!") and topic.params == ["#topics", "from xmpp"]
        await bob.send("TOPIC #topics :back from irc")
        got = await alice.inbox.expect(
            lambda s: s.name == "message" and subject_of(s) == "back from irc", "the new subject")
        assert str(got["from"]) == f"{room('#topics')}/bob"
    finally:
        await bob.close()


async def test_nick_changes_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#nicks")
        alice = await xmpp_user("alice")
        await join(alice, "#nicks", "alice")
        await bob.expect("JOIN")
        # IRC NICK -> 303 then the new occupant.
        await bob.send("NICK robert")
        await bob.expect("NICK", "robert")
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "bob's 303")
        assert str(gone["from"]) == f"{room('#nicks')}/bob"
        assert gone["muc"]["status_codes"] == {303} and item_of(gone).get("nick") == "robert"
        back = await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]).endswith("/robert")
            and s["type"] != "unavailable", "robert's presence")
        assert back["muc"]["role"] == "moderator"
        # XMPP nick change -> IRC NICK, and 303 with 110 to herself.
        alice.send_presence(pto=f"{room('#nicks')}/alicia")
        nick = await bob.expect("NICK")
        assert nick.source.startswith("alice!") and nick.params == ["alicia"]
        own = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable"
            and str(s["from"]).endswith("/alice"), "her own 303")
        assert own["muc"]["status_codes"] == {303, 110}
        # A nick in use: conflict, and nothing changes on IRC.
        alice.send_presence(pto=f"{room('#nicks')}/robert")
        await alice.inbox.error("conflict")
        assert not [m for m in await bob.until_pong() if m.command == "NICK"]
    finally:
        await bob.close()


async def test_a_joining_nick_in_use_gets_a_suffix_and_210(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#clash")
        carol = await xmpp_user("carol")
        result = await join(carol, "#clash", "bob")
        assert str(result.presence["from"]) == f"{room('#clash')}/bob_"
        assert result.presence["muc"]["status_codes"] == {110, 210}
        joined = await bob.expect("JOIN")
        assert joined.source.startswith("bob_!")
    finally:
        await bob.close()


async def test_kick_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#kicks")
        alice = await xmpp_user("alice")
        await join(alice, "#kicks", "alice")
        await bob.expect("JOIN")
        await bob.send("KICK #kicks alice :behave")
        kicked = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "her kick")
        assert kicked["muc"]["status_codes"] == {307, 110}
        item = item_of(kicked)
        assert item.findtext("{http://jabber.org/protocol/muc#user}reason") == "behave"
        actor = item.find("{http://jabber.org/protocol/muc#user}actor")
        assert actor.get("nick") == "bob"
        # Now the other way: bob ops her; she kicks dave, an IRC user.
        await join(alice, "#kicks", "alice")
        await bob.expect("JOIN")
        await bob.send("MODE #kicks +o alice")
        promoted = await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]).endswith("/alice")
            and s["muc"]["role"] == "moderator", "her promotion")
        assert promoted["muc"]["affiliation"] == "admin"
        dave = await irc_client(server, "dave")
        await irc_join(dave, "#kicks")
        await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]).endswith("/dave"), "dave")
        await alice.plugin["xep_0045"].set_role(room("#kicks"), "dave", "none", reason="spam")
        kick = await dave.expect("KICK")
        assert kick.source.startswith("alice!") and kick.params == ["#kicks", "dave", "spam"]
        await dave.close()
    finally:
        await bob.close()


async def test_private_messages_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#pm")
        alice = await xmpp_user("alice")
        await join(alice, "#pm", "alice")
        await bob.expect("JOIN")
        # nick@component and room/nick both reach bob.
        alice.send_message("bob@irc.localhost", "psst", mtype="chat")
        line = await bob.expect("PRIVMSG")
        assert line.source.startswith("alice!") and line.params == ["bob", "psst"]
        alice.send_message(f"{room('#pm')}/bob", "psst again", mtype="chat")
        line = await bob.expect("PRIVMSG")
        assert line.params == ["bob", "psst again"]
        await bob.send("PRIVMSG alice :hello you")
        got = await alice.inbox.message("hello you", "bob@irc.localhost")
        assert got["type"] == "chat"
        # Nobody by that nick: an error, not silence.
        alice.send_message("nobody@irc.localhost", "hello?", mtype="chat")
        error = await alice.inbox.error("item-not-found")
        assert "nobody" in error["error"]["text"]
    finally:
        await bob.close()


async def test_a_long_message_is_split_for_irc_and_reflected_whole(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#long")
        alice = await xmpp_user("alice")
        await join(alice, "#long", "alice")
        await bob.expect("JOIN")
        words = [f"word{i:04d}" for i in range(250)]
        text = " ".join(words)[:2000]
        assert len(text) == 2000
        alice.send_message(room("#long"), text + "\nand a second line", mtype="groupchat")
        received = []
        while len(" ".join(received)) < len(text):
            msg = await bob.expect("PRIVMSG")
            raw = f":{msg.source} PRIVMSG {' '.join(msg.params[:-1])} :{msg.params[-1]}\r\n"
            assert len(raw.encode()) <= 512
            received.append(msg.params[-1])
        assert " ".join(received) == text  # cut at spaces only, nothing lost
        assert len(received) >= 5
        assert (await bob.expect("PRIVMSG")).params[-1] == "and a second line"
        echo = await alice.inbox.message(text + "\nand a second line")
        assert str(echo["from"]) == f"{room('#long')}/alice"
    finally:
        await bob.close()


async def test_moderation_from_xmpp_is_irc_modes_and_bans(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#mods", "alice")  # the first one in: channel operator
    dave = await irc_client(server, "dave")
    muc = alice.plugin["xep_0045"]
    try:
        await irc_join(dave, "#mods")
        # A moderator sees who is who: an IRC user as nick@component.
        shown = await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]).endswith("/dave"), "dave")
        assert item_of(shown).get("jid") == "dave@irc.localhost"
        await muc.set_role(room("#mods"), "dave", "moderator")
        mode = await dave.expect("MODE")
        assert mode.source.startswith("alice!") and mode.params == ["#mods", "+o", "dave"]
        await muc.set_role(room("#mods"), "dave", "participant")
        mode = await dave.expect("MODE")
        assert mode.params == ["#mods", "-o+v", "dave", "dave"]
        # IRC users have no real JID: they are banned as nick@component (by their host).
        await muc.set_affiliation(room("#mods"), "outcast", jid="dave@irc.localhost",
                                  reason="enough")
        ban = await dave.expect("MODE")
        assert ban.params == ["#mods", "+b", "*!*@127.0.0.1"]
        kick = await dave.expect("KICK")
        assert kick.params == ["#mods", "dave", "enough"]
        await dave.send("JOIN #mods")
        assert (await dave.expect("474")).params[1] == "#mods"
    finally:
        await dave.close()


async def test_away_and_a_second_client_of_the_same_jid(gateway_server, xmpp_user, prosody):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await bob.send("CAP REQ away-notify")
        await bob.expect("CAP")
        await irc_join(bob, "#away")
        alice = await xmpp_user("alice")
        await join(alice, "#away", "alice")
        await bob.expect("JOIN")
        alice.send_presence(pto=f"{room('#away')}/alice", pshow="away", pstatus="lunch")
        away = await bob.expect("AWAY")
        assert away.source.startswith("alice!") and away.params == ["lunch"]
        alice.send_presence(pto=f"{room('#away')}/alice")
        assert (await bob.expect("AWAY")).params == []
        # Her second client joins the same room: the same occupant, nothing new on IRC.
        second = loopback_client(alice.boundjid.bare, "secretpw")
        started = asyncio.get_running_loop().create_future()
        second.add_event_handler("session_start", lambda _: started.set_result(None))
        second.connect("127.0.0.1", prosody.c2s_port)
        await asyncio.wait_for(started, 10)
        try:
            result = await join(second, "#away", "alice")
            assert result.presence["muc"]["status_codes"] == {110}
            assert [m.command for m in await bob.until_pong()] == []
            await bob.send("PRIVMSG #away :to both")
            await alice.inbox.message("to both")
            second.plugin["xep_0045"].leave_muc(room("#away"), "alice")
            alice.send_message(room("#away"), "still in", mtype="groupchat")
            assert (await bob.expect("PRIVMSG")).params == ["#away", "still in"]
        finally:
            await disconnect_client(second)
    finally:
        await bob.close()


async def test_an_irc_invite_is_a_mediated_invitation(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#vip")
        await bob.send("MODE #vip +i")
        await bob.expect("MODE")
        alice = await xmpp_user("alice")
        await join(alice, "#lobby2", "alice")  # signed on through another room
        await bob.send("INVITE alice #vip")
        await bob.expect("341")
        invite = await alice.inbox.expect(
            lambda s: s.name == "message" and s.xml.find(f"{MUC_USER}x/{MUC_USER}invite") is not None,
            "the invitation")
        assert str(invite["from"]) == room("#vip")
        assert invite.xml.find(f"{MUC_USER}x/{MUC_USER}invite").get("from") == "bob@irc.localhost"
        await join(alice, "#vip", "alice")  # +i lets the invited in
        assert (await bob.expect("JOIN")).source.startswith("alice!")
    finally:
        await bob.close()


async def test_xmpp_users_hear_each_other_whole(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#both")
        alice = await xmpp_user("alice")
        carol = await xmpp_user("carol")
        await join(alice, "#both", "alice")
        await join(carol, "#both", "carol")
        alice.send_message(room("#both"), "line one\nline two", mtype="groupchat")
        assert (await bob.expect("PRIVMSG")).params == ["#both", "line one"]
        assert (await bob.expect("PRIVMSG")).params == ["#both", "line two"]
        got = await carol.inbox.message("line one\nline two", f"{room('#both')}/alice")
        assert got["id"]
        carol.send_message(room("#both"), "single", mtype="groupchat")
        await alice.inbox.message("single", f"{room('#both')}/carol")
        # Nothing but those: no line-by-line copies.
        assert not [s for s in carol.inbox.stanzas if s.name == "message" and s["body"]
                    and str(s["from"]).endswith("/alice")]
    finally:
        await bob.close()


async def test_services_answer_xmpp_users_too(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#svc", "alice")
    alice.send_message("nickserv@irc.localhost", "REGISTER alicepass1", mtype="chat")
    reply = await alice.inbox.expect(
        lambda s: s.name == "message" and str(s["from"]) == "nickserv@irc.localhost"
        and "registered" in (s["body"] or ""), "NickServ's answer")
    assert reply["type"] == "chat"
    assert server.realm.find_user("alice").account == "alice"
    assert (await server.realm.accounts.get("alice")) is not None


async def test_an_xmpp_invitation_is_an_irc_invite(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#club", "alice")  # first in: operator
    bob = await irc_client(server, "bob")
    try:
        alice.plugin["xep_0045"].invite(room("#club"), "bob@irc.localhost", reason="come")
        invite = await bob.expect("INVITE")
        assert invite.source.startswith("alice!") and invite.params == ["bob", "#club"]
        alice.plugin["xep_0045"].invite(room("#club"), "nobody@irc.localhost")
        error = await alice.inbox.error("item-not-found")
        assert error["error"]["text"].startswith("No such user here: nobody@irc.localhost")
    finally:
        await bob.close()


async def test_the_outcast_list_shows_the_bans_that_are_jids(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#bans", "alice")  # first in: operator
    muc = alice.plugin["xep_0045"]
    await muc.set_affiliation(room("#bans"), "outcast", jid="eve@evil.example")
    group = server.realm.find_group("#bans")
    assert [e.mask for e in group.settings.bans.values()] == ["*!eve@evil.example"]
    server.realm.change_settings(group, [("ban", True, "*!*@spam.example"),
                                         ("ban", True, "troll!*@*")])  # not a JID: not listed
    outcasts = await muc.get_affiliation_list(room("#bans"), "outcast", timeout=10)
    assert sorted(str(j) for j in outcasts) == ["eve@evil.example", "spam.example"]
    await muc.set_affiliation(room("#bans"), "none", jid="eve@evil.example")
    assert [str(j) for j in await muc.get_affiliation_list(
        room("#bans"), "outcast", timeout=10)] == ["spam.example"]


async def test_an_irc_quit_is_an_unavailable_presence_with_the_quit_message(
        gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    dave = await irc_client(server, "dave")
    try:
        await irc_join(bob, "#quits")
        await irc_join(dave, "#quits")
        alice = await xmpp_user("alice")
        await join(alice, "#quits", "alice")
        await dave.send("QUIT :off to bed")
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "dave's quit")
        assert str(gone["from"]) == f"{room('#quits')}/dave"
        assert gone["status"] == "Quit: off to bed"
        assert gone["muc"]["role"] == "none"
        assert gone["muc"]["status_codes"] == set()  # neither kicked nor herself
        # The others stay.
        await bob.send("PRIVMSG #quits :still here")
        await alice.inbox.message("still here", f"{room('#quits')}/bob")
    finally:
        await bob.close()
        await dave.close()


def presence_of(nick: str, channel: str):
    return lambda s: (s.name == "presence" and str(s["from"]) == f"{room(channel)}/{nick}"
                      and s["type"] != "unavailable")


async def test_irc_voice_is_participant_and_member_on_xmpp(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    dave = await irc_client(server, "dave")
    try:
        await irc_join(bob, "#voices")
        await irc_join(dave, "#voices")
        await bob.send("MODE #voices +m")
        await bob.expect("MODE")
        alice = await xmpp_user("alice")
        result = await join(alice, "#voices", "alice")
        dave_seen = next(p for p in result.occupants if str(p["from"]).endswith("/dave"))
        assert (dave_seen["muc"]["role"], dave_seen["muc"]["affiliation"]) == ("visitor", "none")
        assert (result.presence["muc"]["role"], result.presence["muc"]["affiliation"]) == (
            "visitor", "none")
        alice.inbox.clear()
        await bob.send("MODE #voices +v dave")
        voiced = await alice.inbox.expect(presence_of("dave", "#voices"), "dave voiced")
        assert (voiced["muc"]["role"], voiced["muc"]["affiliation"]) == ("participant", "member")
        await bob.send("MODE #voices +v alice")
        own = await alice.inbox.expect(presence_of("alice", "#voices"), "her voice")
        assert (own["muc"]["role"], own["muc"]["affiliation"]) == ("participant", "member")
        assert own["muc"]["status_codes"] == {110}
        # Voiced, she may speak in the +m channel.
        alice.send_message(room("#voices"), "voiced now", mtype="groupchat")
        assert (await bob.expect("PRIVMSG")).params == ["#voices", "voiced now"]
    finally:
        await bob.close()
        await dave.close()


async def test_visitor_role_and_admin_member_affiliations_are_irc_modes(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#ranks", "alice")  # the first one in: channel operator
    dave = await irc_client(server, "dave")
    muc = alice.plugin["xep_0045"]
    try:
        await irc_join(dave, "#ranks")
        await alice.inbox.expect(presence_of("dave", "#ranks"), "dave")
        alice.inbox.clear()
        await muc.set_affiliation(room("#ranks"), "admin", nick="dave")
        mode = await dave.expect("MODE")
        assert mode.source.startswith("alice!") and mode.params == ["#ranks", "+o", "dave"]
        shown = await alice.inbox.expect(presence_of("dave", "#ranks"), "dave the admin")
        assert (shown["muc"]["role"], shown["muc"]["affiliation"]) == ("moderator", "admin")
        await muc.set_role(room("#ranks"), "dave", "visitor")
        assert (await dave.expect("MODE")).params == ["#ranks", "-o", "dave"]
        await muc.set_affiliation(room("#ranks"), "member", nick="dave")
        assert (await dave.expect("MODE")).params == ["#ranks", "+v", "dave"]
        await muc.set_role(room("#ranks"), "dave", "visitor")
        assert (await dave.expect("MODE")).params == ["#ranks", "-v", "dave"]
        # Given as nick@component, an IRC user is found too.
        await muc.set_affiliation(room("#ranks"), "member", jid="dave@irc.localhost")
        assert (await dave.expect("MODE")).params == ["#ranks", "+v", "dave"]
        assert server.realm.find_group("#ranks").members[server.realm.find_user("dave")] == "v"
    finally:
        await dave.close()
