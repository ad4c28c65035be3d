"""Channel modes b e I k l i m n t s p o v and user modes i w B o, over real sockets.

Each mode: setting and unsetting (the MODE line every member sees), its replies
and errors, and what it does to JOIN, PRIVMSG, TOPIC and the listings.
"""

from __future__ import annotations

import time

import pytest
from support import RawClient, join, reply_to

ALICE = "alice!~user@127.0.0.1"




@pytest.fixture
async def chan(connect) -> tuple[RawClient, RawClient]:
    """alice, operator of #a, and bob, a plain member; both have read everything."""
    clients = [await connect(nick) for nick in ("alice", "bob")]
    for client in clients:
        await join(client, "#a")
    await clients[0].until_pong()
    return clients[0], clients[1]


async def set_modes(op: RawClient, *changes: str) -> None:
    """Apply each MODE #a change and wait for its MODE line."""
    for change in changes:
        await op.send(f"MODE #a {change}")
        await op.expect("MODE", "#a")


# -- the MODE line and who may send it ---------------------------------------------------


async def test_mode_change_is_seen_by_every_member(chan):
    alice, bob = chan
    await alice.send("MODE #a +m")
    expected = [f":{ALICE} MODE #a +m"]
    assert [m.to_line() for m in await alice.until_pong()] == expected
    assert [m.to_line() for m in await bob.until_pong()] == expected


async def test_mode_unset_is_seen_by_every_member(chan):
    alice, bob = chan
    await alice.send("MODE #a -t")
    await alice.expect("MODE")
    assert [m.to_line() for m in await bob.until_pong()] == [f":{ALICE} MODE #a -t"]


async def test_mode_that_changes_nothing_sends_nothing(chan):
    alice, bob = chan
    assert await reply_to(alice, "MODE #a +nt") == []
    assert await bob.until_pong() == []


async def test_mixed_modes_are_sent_in_one_line(chan):
    alice, _bob = chan
    assert await reply_to(alice, "MODE #a +im-t+v bob") == [f":{ALICE} MODE #a +im-t+v bob"]


@pytest.mark.parametrize("change", ["+m", "-n", "+o bob", "+b x!*@*", "+k key", "+l 5"])
async def test_mode_change_by_a_non_op_gets_482_and_changes_nothing(chan, change):
    alice, bob = chan
    assert await reply_to(bob, f"MODE #a {change}") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]
    assert await alice.until_pong() == []


async def test_mode_change_by_a_non_member_gets_482(chan, connect):
    carol = await connect("carol")
    assert await reply_to(carol, "MODE #a +m") == [
        ":irc.test 482 carol #a :You're not channel operator",
    ]


async def test_modes_with_a_parameter_beyond_the_modes_limit_are_ignored(start_server, connect):
    server = await start_server(limits={"max_modes": 2})
    clients = [await connect(nick, port=server.port) for nick in ("alice", "b1", "b2", "b3")]
    for client in clients:
        await join(client, "#a")
    assert await reply_to(clients[0], "MODE #a +vvvm b1 b2 b3") == [
        f":{ALICE} MODE #a +vvm b1 b2",
    ]


async def test_mode_line_with_more_changes_than_modes_is_split(start_server, connect):
    # A realm change (or an oper) may bring more than MODES; the line is split.
    server = await start_server(limits={"max_modes": 2})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    group = server.realm.find_group("#a")
    user = server.realm.find_user("alice")
    server.realm.change_settings(
        group, [("ban", True, "a!*@*"), ("ban", True, "b!*@*"), ("ban", True, "c!*@*")], by=user
    )
    assert [m.to_line() for m in await alice.until_pong()] == [
        f":{ALICE} MODE #a +bb a!*@* b!*@*",
        f":{ALICE} MODE #a +b c!*@*",
    ]


# -- o and v ------------------------------------------------------------------------------


async def test_op_gives_the_at_prefix(chan):
    alice, bob = chan
    assert await reply_to(alice, "MODE #a +o BOB") == [f":{ALICE} MODE #a +o bob"]
    assert await reply_to(bob, "NAMES #a") == [
        ":irc.test 353 bob = #a :@alice @bob",
        ":irc.test 366 bob #a :End of /NAMES list",
    ]


async def test_deop_takes_the_prefix_and_the_rights(chan):
    alice, bob = chan
    await set_modes(alice, "+o bob")
    assert await reply_to(alice, "MODE #a -o bob") == [f":{ALICE} MODE #a -o bob"]
    assert await reply_to(bob, "MODE #a +m") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]


async def test_voice_gives_the_plus_prefix(chan):
    alice, bob = chan
    assert await reply_to(alice, "MODE #a +v bob") == [f":{ALICE} MODE #a +v bob"]
    assert await reply_to(bob, "NAMES #a") == [
        ":irc.test 353 bob = #a :@alice +bob",
        ":irc.test 366 bob #a :End of /NAMES list",
    ]


async def test_devoice(chan):
    alice, _bob = chan
    await set_modes(alice, "+v bob")
    assert await reply_to(alice, "MODE #a -v bob") == [f":{ALICE} MODE #a -v bob"]


@pytest.mark.parametrize("letter", ["o", "v"])
async def test_status_for_a_user_not_on_the_channel_gets_441(chan, connect, letter):
    alice, _bob = chan
    await connect("carol")
    assert await reply_to(alice, f"MODE #a +{letter} carol") == [
        ":irc.test 441 alice carol #a :They aren't on that channel",
    ]


@pytest.mark.parametrize("letter", ["o", "v"])
async def test_status_for_an_unknown_nick_gets_401(chan, letter):
    alice, _bob = chan
    assert await reply_to(alice, f"MODE #a +{letter} nobody") == [
        ":irc.test 401 alice nobody :No such nick/channel",
    ]


async def test_a_new_op_may_change_modes(chan):
    alice, bob = chan
    await set_modes(alice, "+o bob")
    await bob.until_pong()
    assert await reply_to(bob, "MODE #a +m") == [":bob!~user@127.0.0.1 MODE #a +m"]


# -- b, e, I: the lists --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("letter", "item", "end", "text"),
    [
        ("b", "367", "368", "End of channel ban list"),
        ("e", "348", "349", "End of channel exception list"),
        ("I", "346", "347", "End of channel invite list"),
    ],
)
async def test_list_entry_is_listed_with_its_setter_and_time(chan, letter, item, end, text):
    alice, _bob = chan
    before = int(time.time())
    assert await reply_to(alice, f"MODE #a +{letter} *!*@bad.example") == [
        f":{ALICE} MODE #a +{letter} *!*@bad.example",
    ]
    replies = await reply_to(alice, f"MODE #a {letter}")
    assert len(replies) == 2
    *head, set_at = replies[0].split(" ")
    assert head == [":irc.test", item, "alice", "#a", "*!*@bad.example", ALICE]
    assert before <= int(set_at) <= time.time()
    assert replies[1] == f":irc.test {end} alice #a :{text}"


@pytest.mark.parametrize("letter", ["b", "e", "I"])
async def test_list_entry_is_removed(chan, letter):
    alice, _bob = chan
    await set_modes(alice, f"+{letter} x!*@*")
    assert await reply_to(alice, f"MODE #a -{letter} X!*@*") == [f":{ALICE} MODE #a -{letter} X!*@*"]
    replies = await reply_to(alice, f"MODE #a {letter}")
    assert len(replies) == 1 and replies[0].split()[1] in ("368", "349", "347")


@pytest.mark.parametrize(
    ("mask", "stored"),
    [("bob", "bob!*@*"), ("~user@host", "*!~user@host"), ("bob!~user", "bob!~user@*")],
)
async def test_ban_mask_is_completed(chan, mask, stored):
    alice, _bob = chan
    assert await reply_to(alice, f"MODE #a +b {mask}") == [f":{ALICE} MODE #a +b {stored}"]


async def test_ban_list_may_be_seen_by_a_non_op(chan):
    alice, bob = chan
    await set_modes(alice, "+b x!*@*")
    replies = await reply_to(bob, "MODE #a +b")
    assert [r.split()[1] for r in replies] == ["367", "368"]


@pytest.mark.parametrize("letter", ["e", "I"])
async def test_exception_and_invite_lists_are_for_ops_only(chan, letter):
    _alice, bob = chan
    assert await reply_to(bob, f"MODE #a {letter}") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]


@pytest.mark.parametrize("letter", ["b", "e", "I"])
async def test_full_list_gets_478(start_server, connect, letter):
    server = await start_server(limits={"max_list_entries": 2})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    assert await reply_to(alice, f"MODE #a +{letter}{letter}{letter} a b c") == [
        ":irc.test 478 alice #a c!*@* :Channel list is full",
        f":{ALICE} MODE #a +{letter}{letter} a!*@* b!*@*",
    ]


async def test_full_list_gets_478_in_a_later_command(start_server, connect):
    server = await start_server(limits={"max_list_entries": 2})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    await alice.send("MODE #a +bb a b")
    await alice.expect("MODE")
    assert await reply_to(alice, "MODE #a +b c") == [
        ":irc.test 478 alice #a c!*@* :Channel list is full",
    ]


# -- bans and exceptions at work ---------------------------------------------------------


async def test_ban_stops_join_with_474(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+b carol!*@*")
    carol = await connect("carol")
    assert await reply_to(carol, "JOIN #a") == [
        ":irc.test 474 carol #a :Cannot join channel (+b)",
    ]


async def test_ban_matches_case_insensitively(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+b CAROL!*@*")
    carol = await connect("carol")
    await carol.send("JOIN #a")
    await carol.expect("474")


async def test_exception_lets_a_banned_user_join(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+b *!*@127.0.0.1", "+e carol!*@*")
    carol = await connect("carol")
    await join(carol, "#a")


async def test_ban_stops_a_member_speaking_with_404(chan):
    alice, bob = chan
    await set_modes(alice, "+b bob!*@*")
    assert await reply_to(bob, "PRIVMSG #a :hello") == [
        ":irc.test 404 bob #a :Cannot send to channel (you are banned)",
    ]
    assert await alice.until_pong() == []


async def test_exception_lets_a_banned_member_speak(chan):
    alice, bob = chan
    await set_modes(alice, "+b *!*@*", "+e bob!*@*")
    assert await reply_to(bob, "PRIVMSG #a :hello") == []
    await alice.expect("PRIVMSG", "#a")


async def test_a_banned_op_still_speaks(chan):
    alice, bob = chan
    await set_modes(alice, "+b alice!*@*")
    await bob.until_pong()
    assert await reply_to(alice, "PRIVMSG #a :hello") == []
    await bob.expect("PRIVMSG", "#a")


async def test_unban_lets_join_again(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+b carol!*@*", "-b carol!*@*")
    carol = await connect("carol")
    await join(carol, "#a")


# -- i and I --------------------------------------------------------------------------------


async def test_invite_only_stops_join_with_473(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+i")
    carol = await connect("carol")
    assert await reply_to(carol, "JOIN #a") == [
        ":irc.test 473 carol #a :Cannot join channel (+i)",
    ]


async def test_invite_exception_lets_a_user_into_an_invite_only_channel(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+i", "+I carol!*@*")
    carol = await connect("carol")
    await join(carol, "#a")


async def test_invite_lets_a_user_into_an_invite_only_channel(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+i")
    carol = await connect("carol")
    await alice.send("INVITE carol #a")
    await alice.expect("341")
    await join(carol, "#a")


async def test_minus_i_opens_the_channel(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+i", "-i")
    carol = await connect("carol")
    await join(carol, "#a")


# -- k -------------------------------------------------------------------------------------


async def test_key_is_shown_to_members_in_324(chan):
    alice, bob = chan
    assert await reply_to(alice, "MODE #a +k s3cret") == [f":{ALICE} MODE #a +k s3cret"]
    replies = await reply_to(bob, "MODE #a")
    assert replies[0] == ":irc.test 324 bob #a +ntk s3cret"


async def test_key_is_hidden_from_outsiders_in_324(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+k s3cret")
    carol = await connect("carol")
    replies = await reply_to(carol, "MODE #a")
    assert replies[0] == ":irc.test 324 carol #a +ntk *"


async def test_key_stops_join_without_it_with_475(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+k s3cret")
    carol = await connect("carol")
    assert await reply_to(carol, "JOIN #a") == [
        ":irc.test 475 carol #a :Cannot join channel (+k)",
    ]


async def test_key_stops_join_with_a_wrong_key_with_475(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+k s3cret")
    carol = await connect("carol")
    assert await reply_to(carol, "JOIN #a wrong") == [
        ":irc.test 475 carol #a :Cannot join channel (+k)",
    ]


async def test_join_with_the_right_key_succeeds(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+k s3cret")
    carol = await connect("carol")
    await carol.send("JOIN #b,#a new,s3cret")
    await carol.expect("366", "carol", "#b")
    await carol.expect("366", "carol", "#a")


async def test_unset_key_is_sent_as_a_star(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+k s3cret")
    assert await reply_to(alice, "MODE #a -k whatever") == [f":{ALICE} MODE #a -k *"]
    carol = await connect("carol")
    await join(carol, "#a")


@pytest.mark.parametrize("key", ["a" * 24, "a,b"])
async def test_malformed_key_gets_525(chan, key):
    alice, _bob = chan
    assert await reply_to(alice, f"MODE #a +k {key}") == [
        ":irc.test 525 alice #a :Key is not well-formed",
    ]


async def test_key_without_a_parameter_is_dropped(chan):
    alice, _bob = chan
    assert await reply_to(alice, "MODE #a +k") == []


# -- l -------------------------------------------------------------------------------------


async def test_limit_stops_join_when_full_with_471(chan, connect):
    alice, _bob = chan
    assert await reply_to(alice, "MODE #a +l 2") == [f":{ALICE} MODE #a +l 2"]
    carol = await connect("carol")
    assert await reply_to(carol, "JOIN #a") == [
        ":irc.test 471 carol #a :Cannot join channel (+l)",
    ]


async def test_limit_is_shown_in_324(chan):
    alice, _bob = chan
    await set_modes(alice, "+l 10")
    replies = await reply_to(alice, "MODE #a")
    assert replies[0] == ":irc.test 324 alice #a +ntl 10"


async def test_limit_with_room_left_admits(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+l 3")
    carol = await connect("carol")
    await join(carol, "#a")


async def test_unset_limit_takes_no_parameter(chan, connect):
    alice, _bob = chan
    await set_modes(alice, "+l 2")
    assert await reply_to(alice, "MODE #a -l") == [f":{ALICE} MODE #a -l"]
    carol = await connect("carol")
    await join(carol, "#a")


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
async def test_bad_limit_gets_696(chan, limit):
    alice, _bob = chan
    assert await reply_to(alice, f"MODE #a +l {limit}") == [
        f":irc.test 696 alice #a l {limit} :Invalid limit",
    ]


# -- m, n, t -------------------------------------------------------------------------------


async def test_moderated_stops_a_plain_member_with_404(chan):
    alice, bob = chan
    await set_modes(alice, "+m")
    await bob.until_pong()
    assert await reply_to(bob, "PRIVMSG #a :hello") == [
        ":irc.test 404 bob #a :Cannot send to channel (+m)",
    ]
    assert await alice.until_pong() == []


async def test_moderated_lets_a_voiced_member_speak(chan):
    alice, bob = chan
    await set_modes(alice, "+m", "+v bob")
    await bob.until_pong()
    assert await reply_to(bob, "PRIVMSG #a :hello") == []
    await alice.expect("PRIVMSG", "#a")


async def test_moderated_lets_an_op_speak(chan):
    alice, bob = chan
    await set_modes(alice, "+m")
    await bob.until_pong()
    assert await reply_to(alice, "PRIVMSG #a :hello") == []
    await bob.expect("PRIVMSG", "#a")


async def test_no_external_stops_an_outsider_with_404(chan, connect):
    carol = await connect("carol")
    assert await reply_to(carol, "PRIVMSG #a :hello") == [
        ":irc.test 404 carol #a :Cannot send to channel (no external messages)",
    ]


async def test_without_no_external_an_outsider_may_speak(chan, connect):
    alice, bob = chan
    await set_modes(alice, "-n")
    await bob.until_pong()
    carol = await connect("carol")
    assert await reply_to(carol, "PRIVMSG #a :hello") == []
    message = await bob.expect("PRIVMSG")
    assert message.to_line() == ":carol!~user@127.0.0.1 PRIVMSG #a hello"


async def test_topic_lock_off_lets_a_plain_member_set_the_topic(chan):
    alice, bob = chan
    await set_modes(alice, "-t")
    await bob.until_pong()
    assert await reply_to(bob, "TOPIC #a :mine") == [":bob!~user@127.0.0.1 TOPIC #a mine"]


async def test_topic_lock_on_again_stops_a_plain_member(chan):
    alice, bob = chan
    await set_modes(alice, "-t", "+t")
    assert await reply_to(bob, "TOPIC #a :mine") == [
        ":irc.test 482 bob #a :You're not channel operator",
    ]


# -- s, p: set, shown in 324 (what they hide is in test_visibility) ---------------------------


@pytest.mark.parametrize(("letter", "modes"), [("s", "+nst"), ("p", "+npt")])
async def test_secret_and_private_are_shown_in_324(chan, letter, modes):
    alice, _bob = chan
    assert await reply_to(alice, f"MODE #a +{letter}") == [f":{ALICE} MODE #a +{letter}"]
    replies = await reply_to(alice, "MODE #a")
    assert replies[0] == f":irc.test 324 alice #a {modes}"


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_secret_and_private_can_be_unset(chan, letter):
    alice, _bob = chan
    await set_modes(alice, f"+{letter}")
    assert await reply_to(alice, f"MODE #a -{letter}") == [f":{ALICE} MODE #a -{letter}"]


# -- user modes ------------------------------------------------------------------------------


@pytest.mark.parametrize(("letter", "shown"), [("i", "+i"), ("w", "+w"), ("B", "+B")])
async def test_user_mode_is_set_and_shown_in_221(connect, letter, shown):
    alice = await connect("alice")
    assert await reply_to(alice, f"MODE alice +{letter}") == [f":alice MODE alice +{letter}"]
    assert await reply_to(alice, "MODE alice") == [f":irc.test 221 alice {shown}"]


@pytest.mark.parametrize("letter", ["i", "w", "B"])
async def test_user_mode_is_unset(connect, letter):
    alice = await connect("alice")
    await alice.send(f"MODE alice +{letter}")
    await alice.expect("MODE")
    assert await reply_to(alice, f"MODE alice -{letter}") == [f":alice MODE alice -{letter}"]
    assert await reply_to(alice, "MODE alice") == [":irc.test 221 alice +"]


async def test_several_user_modes_at_once(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MODE alice +iwB") == [":alice MODE alice +iwB"]
    assert await reply_to(alice, "MODE alice") == [":irc.test 221 alice +Biw"]


async def test_user_mode_plus_o_is_ignored(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MODE alice +o") == []
    assert await reply_to(alice, "MODE alice") == [":irc.test 221 alice +"]


async def test_user_mode_minus_o_of_a_non_operator_changes_nothing(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MODE alice -o") == []


async def test_user_mode_already_set_sends_nothing(connect):
    alice = await connect("alice")
    await alice.send("MODE alice +i")
    await alice.expect("MODE")
    assert await reply_to(alice, "MODE alice +i") == []
