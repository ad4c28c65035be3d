"""Commands about users over real sockets: AWAY ISON USERHOST WHOWAS KICK INVITE."""

from __future__ import annotations

import time

import pytest
from support import RawClient, join, reply_to


async def pair_on(connect, channel: str = "#a") -> tuple[RawClient, RawClient]:
    """alice (the op) and bob, both on `channel`, with nothing left to read."""
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, channel)
    await join(bob, channel)
    await alice.until_pong()
    return alice, bob


# -- AWAY ------------------------------------------------------------------------------


async def test_away_with_a_message_gets_306(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "AWAY :gone fishing") == [
        ":irc.test 306 alice :You have been marked as being away",
    ]


async def test_away_without_a_message_gets_305(connect):
    alice = await connect("alice")
    await alice.send("AWAY :gone")
    assert await reply_to(alice, "AWAY") == [
        ":irc.test 305 alice :You are no longer marked as being away",
    ]


async def test_away_with_an_empty_message_is_back(connect):
    alice = await connect("alice")
    await alice.send("AWAY :gone")
    assert await reply_to(alice, "AWAY :") == [
        ":irc.test 305 alice :You are no longer marked as being away",
    ]


async def test_private_message_to_an_away_user_gets_301(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("AWAY :out to lunch")
    await bob.expect("306")
    assert await reply_to(alice, "PRIVMSG bob :hi") == [
        ":irc.test 301 alice bob :out to lunch",
    ]


async def test_notice_to_an_away_user_gets_no_301(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("AWAY :out to lunch")
    await bob.expect("306")
    assert await reply_to(alice, "NOTICE bob :hi") == []


async def test_message_after_coming_back_gets_no_301(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("AWAY :out")
    await bob.send("AWAY")
    await bob.expect("305")
    assert await reply_to(alice, "PRIVMSG bob :hi") == []


async def test_away_message_is_cut_to_awaylen(start_server, connect):
    server = await start_server(limits={"awaylen": 5})
    alice = await connect("alice", port=server.port)
    bob = await connect("bob", port=server.port)
    await bob.send("AWAY :0123456789")
    await bob.expect("306")
    assert await reply_to(alice, "PRIVMSG bob :hi") == [":irc.test 301 alice bob 01234"]


async def test_whois_of_an_away_user_shows_301(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("AWAY :brb")
    await bob.expect("306")
    replies = await reply_to(alice, "WHOIS bob")
    assert [m.split()[1] for m in replies] == ["311", "312", "301", "317", "318"]
    assert replies[2] == ":irc.test 301 alice bob brb"


async def test_who_shows_g_for_an_away_user(connect):
    alice = await connect("alice")
    await alice.send("AWAY :brb")
    await alice.expect("306")
    assert await reply_to(alice, "WHO alice") == [
        ":irc.test 352 alice * ~user 127.0.0.1 irc.test alice G :0 Real alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]


# -- bots (+B) -------------------------------------------------------------------------


async def test_whois_of_a_bot_shows_335(connect):
    alice = await connect("alice")
    robo = await connect("robo")
    await robo.send("MODE robo +B")
    await robo.expect("MODE")
    replies = await reply_to(alice, "WHOIS robo")
    assert [m.split()[1] for m in replies] == ["311", "312", "335", "317", "318"]
    assert replies[2] == ":irc.test 335 alice robo :is a bot"


async def test_who_shows_b_for_a_bot_after_the_prefix(connect):
    robo = await connect("robo")
    await join(robo, "#a")
    await robo.send("MODE robo +B")
    await robo.expect("MODE")
    assert await reply_to(robo, "WHO #a") == [
        ":irc.test 352 robo #a ~user 127.0.0.1 irc.test robo H@B :0 Real robo",
        ":irc.test 315 robo #a :End of WHO list",
    ]


# -- ISON ------------------------------------------------------------------------------


async def test_ison_lists_the_online_nicks_as_the_server_spells_them(connect):
    alice = await connect("alice")
    await connect("Bob")
    assert await reply_to(alice, "ISON bob nobody ALICE") == [":irc.test 303 alice :Bob alice"]


async def test_ison_accepts_a_trailing_list(connect):
    alice = await connect("alice")
    await connect("bob")
    assert await reply_to(alice, "ISON :bob carol") == [":irc.test 303 alice bob"]


async def test_ison_of_nobody_online_is_empty(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "ISON nobody") == [":irc.test 303 alice :"]


async def test_ison_without_a_nick_gets_461(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "ISON") == [":irc.test 461 alice ISON :Not enough parameters"]


# -- USERHOST --------------------------------------------------------------------------


async def test_userhost_replies_nick_equals_plus_user_at_host(connect):
    alice = await connect("alice")
    await connect("bob")
    assert await reply_to(alice, "USERHOST bob nobody alice") == [
        ":irc.test 302 alice :bob=+~user@127.0.0.1 alice=+~user@127.0.0.1",
    ]


async def test_userhost_marks_an_away_user_with_minus(connect):
    alice = await connect("alice")
    await alice.send("AWAY :gone")
    assert await reply_to(alice, "USERHOST alice") == [
        ":irc.test 302 alice alice=-~user@127.0.0.1",
    ]


async def test_userhost_answers_at_most_five_nicks(connect):
    alice = await connect("alice")
    replies = await reply_to(alice, "USERHOST x1 x2 x3 x4 x5 alice")
    assert replies == [":irc.test 302 alice :"]


async def test_userhost_without_a_nick_gets_461(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "USERHOST") == [
        ":irc.test 461 alice USERHOST :Not enough parameters",
    ]


# -- WHOWAS ----------------------------------------------------------------------------


async def test_whowas_of_a_user_who_quit(server, connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("QUIT")
    await bob.closed()
    await alice.until_pong()
    when = time.ctime(server.whowas[0].when)
    assert await reply_to(alice, "WHOWAS BOB") == [
        ":irc.test 314 alice bob ~user 127.0.0.1 * :Real bob",
        f":irc.test 312 alice bob irc.test :{when}",
        ":irc.test 369 alice BOB :End of WHOWAS",
    ]


async def test_whowas_of_an_old_nick_after_a_nick_change(server, connect):
    alice = await connect("alice")
    await alice.send("NICK alicia")
    await alice.expect("NICK")
    replies = await reply_to(alice, "WHOWAS alice")
    assert replies[0] == ":irc.test 314 alicia alice ~user 127.0.0.1 * :Real alice"
    assert replies[2] == ":irc.test 369 alicia alice :End of WHOWAS"


async def test_whowas_lists_newest_first_and_obeys_the_count(server, connect):
    alice = await connect("alice")
    for realname in ("first", "second", "third"):
        client = await connect()
        await client.send("NICK bob")
        await client.send(f"USER u 0 * :{realname}")
        await client.expect("376")
        await client.send("QUIT")
        await client.closed()
    replies = await reply_to(alice, "WHOWAS bob 2")
    assert [r for r in replies if " 314 " in r] == [
        ":irc.test 314 alice bob ~u 127.0.0.1 * third",
        ":irc.test 314 alice bob ~u 127.0.0.1 * second",
    ]
    assert replies[-1] == ":irc.test 369 alice bob :End of WHOWAS"


async def test_whowas_without_a_count_lists_every_entry(server, connect):
    alice = await connect("alice")
    for _ in range(3):
        client = await connect("bob")
        await client.send("QUIT")
        await client.closed()
    replies = await reply_to(alice, "WHOWAS bob")
    assert len([r for r in replies if " 314 " in r]) == 3


async def test_whowas_of_an_unknown_nick_gets_406_and_369(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHOWAS nobody") == [
        ":irc.test 406 alice nobody :There was no such nickname",
        ":irc.test 369 alice nobody :End of WHOWAS",
    ]


async def test_whowas_without_a_nick_gets_431(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHOWAS") == [":irc.test 431 alice :No nickname given"]


# -- KICK ------------------------------------------------------------------------------


async def test_kick_is_seen_by_every_member_including_the_kicked(connect):
    alice, bob = await pair_on(connect)
    await alice.send("KICK #a bob :behave")
    expected = [":alice!~user@127.0.0.1 KICK #a bob behave"]
    assert [m.to_line() for m in await alice.until_pong()] == expected
    assert [m.to_line() for m in await bob.until_pong()] == expected


async def test_kicked_user_is_no_longer_a_member(connect):
    alice, bob = await pair_on(connect)
    await alice.send("KICK #a bob")
    await bob.expect("KICK")
    assert await reply_to(alice, "NAMES #a") == [
        ":irc.test 353 alice = #a @alice",
        ":irc.test 366 alice #a :End of /NAMES list",
    ]


async def test_kick_without_a_reason_gives_the_kickers_nick(connect):
    alice, _bob = await pair_on(connect)
    assert await reply_to(alice, "KICK #a bob") == [":alice!~user@127.0.0.1 KICK #a bob alice"]


async def test_kick_reason_is_cut_to_kicklen(start_server, connect):
    server = await start_server(limits={"kicklen": 4})
    alice = await connect("alice", port=server.port)
    bob = await connect("bob", port=server.port)
    await join(alice, "#a")
    await join(bob, "#a")
    assert await reply_to(alice, "KICK #a bob :go away") == [
        ":alice!~user@127.0.0.1 KICK #a bob :go a",
    ]


async def test_kick_of_several_nicks(connect):
    alice, _bob = await pair_on(connect)
    carol = await connect("carol")
    await join(carol, "#a")
    assert await reply_to(alice, "KICK #a bob,nobody,carol :out") == [
        ":alice!~user@127.0.0.1 KICK #a bob out",
        ":irc.test 401 alice nobody :No such nick/channel",
        ":alice!~user@127.0.0.1 KICK #a carol out",
    ]


async def test_kick_by_a_non_op_gets_482(connect):
    alice, bob = await pair_on(connect)
    assert await reply_to(bob, "KICK #a alice") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]
    assert await alice.until_pong() == []


async def test_kick_by_a_non_member_gets_442(connect):
    await pair_on(connect)
    carol = await connect("carol")
    assert await reply_to(carol, "KICK #a bob") == [
        ":irc.test 442 carol #a :You're not on that channel",
    ]


async def test_kick_of_the_last_member_removes_the_channel(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    await alice.send("KICK #a alice")
    await alice.expect("KICK")
    assert await reply_to(alice, "LIST") == [
        ":irc.test 321 alice Channel :Users  Name",
        ":irc.test 323 alice :End of /LIST",
    ]


# -- INVITE ----------------------------------------------------------------------------


async def test_invite_gets_341_and_the_invitee_gets_the_invite(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    assert await reply_to(alice, "INVITE Bob #A") == [":irc.test 341 alice bob #a"]
    assert [m.to_line() for m in await bob.until_pong()] == [
        ":alice!~user@127.0.0.1 INVITE bob #a",
    ]


async def test_invite_lets_the_invitee_into_an_invite_only_channel(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await alice.send("MODE #a +i")
    await alice.send("INVITE bob #a")
    await alice.expect("341")
    await bob.send("JOIN #a")
    await bob.expect("366", "bob", "#a")


async def test_invite_is_used_up_by_the_join(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await alice.send("MODE #a +i")
    await alice.send("INVITE bob #a")
    await alice.expect("341")
    await join(bob, "#a")
    await bob.send("PART #a")
    await bob.expect("PART")
    assert await reply_to(bob, "JOIN #a") == [
        ":irc.test 473 bob #a :Cannot join channel (+i)",
    ]


async def test_invite_by_a_plain_member_is_allowed_without_plus_i(connect):
    _alice, bob = await pair_on(connect)
    await connect("carol")
    assert await reply_to(bob, "INVITE carol #a") == [":irc.test 341 bob carol #a"]


async def test_invite_by_a_plain_member_of_an_invite_only_channel_gets_482(connect):
    alice, bob = await pair_on(connect)
    await alice.send("MODE #a +i")
    await bob.expect("MODE")
    carol = await connect("carol")
    assert await reply_to(bob, "INVITE carol #a") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]
    assert await carol.until_pong() == []


async def test_invite_of_an_away_user_also_gets_301(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("AWAY :asleep")
    await bob.expect("306")
    await join(alice, "#a")
    assert await reply_to(alice, "INVITE bob #a") == [
        ":irc.test 341 alice bob #a",
        ":irc.test 301 alice bob asleep",
    ]


async def test_invite_by_a_non_member_gets_442(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    bob = await connect("bob")
    await connect("carol")
    assert await reply_to(bob, "INVITE carol #a") == [
        ":irc.test 442 bob #a :You're not on that channel",
    ]


# -- errors of KICK and INVITE from a channel operator --------------------------------------


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("KICK #a Carol", "441 alice carol #a :They aren't on that channel"),
        ("KICK #a nobody", "401 alice nobody :No such nick/channel"),
        ("KICK #nowhere bob", "403 alice #nowhere :No such channel"),
        ("KICK #a", "461 alice KICK :Not enough parameters"),
        ("INVITE nobody #a", "401 alice nobody :No such nick/channel"),
        ("INVITE carol #nowhere", "403 alice #nowhere :No such channel"),
        ("INVITE bob #a", "443 alice bob #a :is already on channel"),
        ("INVITE bob", "461 alice INVITE :Not enough parameters"),
    ],
)
async def test_error_reply(connect, line, reply):
    alice, _bob = await pair_on(connect)
    await connect("carol")
    assert await reply_to(alice, line) == [f":irc.test {reply}"]
