"""Channels over real sockets: JOIN PART TOPIC NAMES LIST MODE."""

from __future__ import annotations

import time

from conftest import RawClient


async def join(client: RawClient, *channels: str) -> None:
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


async def joined(connect, channel: str, *nicks: str) -> list[RawClient]:
    """Register `nicks` and join each to `channel`, in order (the first is op)."""
    clients = []
    for nick in nicks:
        client = await connect(nick)
        await join(client, channel)
        clients.append(client)
    for client in clients:
        await client.until_pong()
    return clients


def lines(messages) -> list[str]:
    return [m.to_line() for m in messages]


async def names_of(client: RawClient, channel: str) -> list[str]:
    await client.send(f"NAMES {channel}")
    names = []
    while True:
        msg = await client.read_message()
        assert msg is not None
        if msg.command == "353":
            names += msg.params[3].split()
        if msg.command == "366":
            return names


async def channel_list(client: RawClient) -> dict[str, list[str]]:
    """LIST, as {channel: [user count, topic]}."""
    await client.send("LIST")
    await client.expect("321")
    listed = {}
    while True:
        msg = await client.read_message()
        assert msg is not None
        if msg.command == "323":
            return listed
        assert msg.command == "322"
        listed[msg.params[1]] = msg.params[2:]


# -- JOIN ------------------------------------------------------------------------------


async def test_join_replies_join_then_names(connect):
    alice = await connect("alice")
    await alice.until_pong()
    await alice.send("JOIN #a")
    replies = lines(await alice.until_pong())
    assert replies == [
        ":alice!~user@127.0.0.1 JOIN #a",
        ":irc.test 353 alice = #a @alice",
        ":irc.test 366 alice #a :End of /NAMES list",
    ]


async def test_first_joiner_is_op_and_later_ones_are_not(connect):
    _alice, bob = await joined(connect, "#a", "alice", "bob")
    assert await names_of(bob, "#a") == ["@alice", "bob"]


async def test_join_is_announced_to_members(connect):
    alice, = await joined(connect, "#a", "alice")
    bob = await connect("bob")
    await join(bob, "#a")
    assert lines(await alice.until_pong()) == [":bob!~user@127.0.0.1 JOIN #a"]


async def test_join_of_a_channel_with_a_topic_sends_332_and_333(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("TOPIC #a :the topic")
    await alice.expect("TOPIC")
    bob = await connect("bob")
    await bob.send("JOIN #a")
    topic = await bob.expect("332")
    assert topic.params == ["bob", "#a", "the topic"]
    who_time = await bob.expect("333")
    assert who_time.params[:3] == ["bob", "#a", "alice"]
    assert abs(int(who_time.params[3]) - time.time()) < 10


async def test_join_of_a_comma_list_joins_each(connect):
    alice = await connect("alice")
    await alice.send("JOIN #a,#b,#c")
    for channel in ("#a", "#b", "#c"):
        joined_line = await alice.expect("JOIN")
        assert joined_line.params == [channel]
        await alice.expect("366", "alice", channel)


async def test_join_keys_are_ignored(connect):
    alice = await connect("alice")
    await alice.send("JOIN #a,#b key1,key2")
    await alice.expect("366", "alice", "#a")
    await alice.expect("366", "alice", "#b")


async def test_join_of_a_channel_already_joined_is_silent(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("JOIN #a")
    assert await alice.until_pong() == []


async def test_join_0_parts_every_channel(connect):
    alice = await connect("alice")
    await join(alice, "#a", "#b")
    await alice.until_pong()
    await alice.send("JOIN 0")
    assert sorted(lines(await alice.until_pong())) == [
        ":alice!~user@127.0.0.1 PART #a :Left all channels",
        ":alice!~user@127.0.0.1 PART #b :Left all channels",
    ]


async def test_join_without_a_channel_gets_461(connect):
    alice = await connect("alice")
    await alice.send("JOIN")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "JOIN", "Not enough parameters"]


async def test_join_of_a_name_without_hash_gets_403(connect):
    alice = await connect("alice")
    await alice.send("JOIN nohash")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "nohash", "No such channel"]


async def test_join_of_a_bare_hash_gets_403(connect):
    alice = await connect("alice")
    await alice.send("JOIN #")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#", "No such channel"]


async def test_join_of_a_name_over_channellen_gets_403(connect):
    alice = await connect("alice")
    name = "#" + "x" * 50
    await alice.send(f"JOIN {name}")
    reply = await alice.expect("403")
    assert reply.params == ["alice", name, "No such channel"]


async def test_bad_name_in_a_list_does_not_stop_the_others(connect):
    alice = await connect("alice")
    await alice.send("JOIN #a,bad,#b")
    await alice.expect("366", "alice", "#a")
    await alice.expect("403", "alice", "bad")
    await alice.expect("366", "alice", "#b")


async def test_join_gets_403_when_channels_are_not_created_on_request(start_server, connect):
    server = await start_server(create_groups_on_request=False)
    alice = await connect("alice", port=server.port)
    await alice.send("JOIN #new")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#new", "No such channel"]


async def test_join_over_max_channels_gets_405(start_server, connect):
    server = await start_server(limits={"max_channels_per_user": 2})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a", "#b")
    await alice.send("JOIN #c")
    reply = await alice.expect("405")
    assert reply.params == ["alice", "#c", "You have joined too many channels"]


async def test_join_refused_over_the_limit_leaves_no_empty_channel_behind(start_server, connect):
    server = await start_server(limits={"max_channels_per_user": 1})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    await alice.send("JOIN #b")
    await alice.expect("405")
    assert await channel_list(alice) == {"#a": ["1", ""]}


async def test_rejoining_a_joined_channel_at_the_limit_is_not_an_error(start_server, connect):
    server = await start_server(limits={"max_channels_per_user": 1})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    await alice.send("JOIN #a")
    assert await alice.until_pong() == []


# -- PART ------------------------------------------------------------------------------


async def test_part_with_reason_is_seen_by_everyone_including_the_leaver(connect):
    alice, bob = await joined(connect, "#a", "alice", "bob")
    await bob.send("PART #a :see you")
    expected = [":bob!~user@127.0.0.1 PART #a :see you"]
    assert lines(await bob.until_pong()) == expected
    assert lines(await alice.until_pong()) == expected


async def test_part_without_reason(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("PART #a")
    assert lines(await alice.until_pong()) == [":alice!~user@127.0.0.1 PART #a"]


async def test_part_of_a_comma_list(connect):
    alice = await connect("alice")
    await join(alice, "#a", "#b")
    await alice.until_pong()
    await alice.send("PART #a,#b :bye")
    assert lines(await alice.until_pong()) == [
        ":alice!~user@127.0.0.1 PART #a bye",
        ":alice!~user@127.0.0.1 PART #b bye",
    ]


async def test_part_of_an_unknown_channel_gets_403(connect):
    alice = await connect("alice")
    await alice.send("PART #nowhere")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#nowhere", "No such channel"]


async def test_part_of_a_channel_one_is_not_on_gets_442(connect):
    _alice, = await joined(connect, "#a", "alice")
    bob = await connect("bob")
    await bob.send("PART #A")
    reply = await bob.expect("442")
    assert reply.params == ["bob", "#a", "You're not on that channel"]


async def test_part_without_a_channel_gets_461(connect):
    alice = await connect("alice")
    await alice.send("PART")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "PART", "Not enough parameters"]


async def test_channel_made_on_request_vanishes_when_its_last_member_parts(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("PART #a")
    await alice.expect("PART")
    assert await channel_list(alice) == {}


# -- TOPIC -----------------------------------------------------------------------------


async def test_topic_query_without_a_topic_gets_331(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("TOPIC #a")
    reply = await alice.expect("331")
    assert reply.params == ["alice", "#a", "No topic is set"]


async def test_topic_query_gets_332_and_333(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("TOPIC #a :hello world")
    await alice.expect("TOPIC")
    await alice.send("TOPIC #a")
    topic = await alice.expect("332")
    assert topic.params == ["alice", "#a", "hello world"]
    who_time = await alice.expect("333")
    assert who_time.params[:3] == ["alice", "#a", "alice"]


async def test_topic_set_by_an_op_is_seen_by_every_member(connect):
    alice, bob = await joined(connect, "#a", "alice", "bob")
    await alice.send("TOPIC #a :new topic")
    expected = [":alice!~user@127.0.0.1 TOPIC #a :new topic"]
    assert lines(await alice.until_pong()) == expected
    assert lines(await bob.until_pong()) == expected


async def test_topic_set_by_a_non_op_gets_482(connect):
    alice, bob = await joined(connect, "#a", "alice", "bob")
    await bob.send("TOPIC #a :mine now")
    reply = await bob.expect("482")
    assert reply.params == ["bob", "#a", "You're not channel operator"]
    assert await alice.until_pong() == []


async def test_topic_set_by_a_non_member_gets_442(connect):
    await joined(connect, "#a", "alice")
    bob = await connect("bob")
    await bob.send("TOPIC #a :outsider")
    reply = await bob.expect("442")
    assert reply.params == ["bob", "#a", "You're not on that channel"]


async def test_topic_of_an_unknown_channel_gets_403(connect):
    alice = await connect("alice")
    await alice.send("TOPIC #nowhere")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#nowhere", "No such channel"]


async def test_topic_is_cut_to_topiclen(start_server, connect):
    server = await start_server(limits={"topiclen": 10})
    alice = await connect("alice", port=server.port)
    await join(alice, "#a")
    await alice.send("TOPIC #a :0123456789abcdef")
    topic = await alice.expect("TOPIC")
    assert topic.params == ["#a", "0123456789"]


async def test_topic_can_be_cleared(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("TOPIC #a :something")
    await alice.expect("TOPIC")
    await alice.send("TOPIC #a :")
    cleared = await alice.expect("TOPIC")
    assert cleared.params == ["#a", ""]
    await alice.send("TOPIC #a")
    await alice.expect("331")


# -- NAMES -----------------------------------------------------------------------------


async def test_names_lists_members_with_prefixes(connect):
    _alice, bob = await joined(connect, "#a", "alice", "bob")
    await bob.send("NAMES #a")
    assert lines(await bob.until_pong()) == [
        ":irc.test 353 bob = #a :@alice bob",
        ":irc.test 366 bob #a :End of /NAMES list",
    ]


async def test_names_without_a_channel_gets_only_366_star(connect):
    await joined(connect, "#a", "alice")
    bob = await connect("bob")
    await bob.send("NAMES")
    assert lines(await bob.until_pong()) == [":irc.test 366 bob * :End of /NAMES list"]


async def test_names_of_an_unknown_channel_gets_only_366(connect):
    alice = await connect("alice")
    await alice.send("NAMES #nowhere")
    assert lines(await alice.until_pong()) == [":irc.test 366 alice #nowhere :End of /NAMES list"]


async def test_names_of_a_big_channel_is_split_across_lines_under_512_bytes(connect):
    nicks = [f"n{i:02d}" + "x" * 27 for i in range(60)]  # 30 characters, the NICKLEN
    clients = []
    for nick in nicks:
        client = await connect(nick)
        await join(client, "#big")
        clients.append(client)
    observer = clients[-1]
    await observer.until_pong()
    await observer.send("NAMES #big")
    replies = await observer.until_pong()
    assert [m.command for m in replies[-1:]] == ["366"]
    names_lines = replies[:-1]
    assert len(names_lines) >= 4  # 60 x 31 bytes cannot fit in fewer
    listed = []
    for msg in names_lines:
        assert msg.command == "353"
        assert msg.params[:3] == [observer.nick, "=", "#big"]
        assert len(msg.to_line().encode()) + 2 <= 512
        listed += msg.params[3].split()
    assert listed == ["@" + nicks[0]] + nicks[1:]


# -- LIST ------------------------------------------------------------------------------


async def test_list_shows_each_channel_with_its_user_count_and_topic(connect):
    alice, bob = await joined(connect, "#a", "alice", "bob")
    await join(alice, "#b")
    await alice.send("TOPIC #b :bee")
    await alice.until_pong()
    await bob.send("LIST")
    assert lines(await bob.until_pong()) == [
        ":irc.test 321 bob Channel :Users  Name",
        ":irc.test 322 bob #a 2 :",
        ":irc.test 322 bob #b 1 bee",
        ":irc.test 323 bob :End of /LIST",
    ]


async def test_list_of_named_channels(connect):
    alice, = await joined(connect, "#a", "alice")
    await join(alice, "#b")
    await alice.until_pong()
    await alice.send("LIST #b,#nowhere")
    assert lines(await alice.until_pong()) == [
        ":irc.test 321 alice Channel :Users  Name",
        ":irc.test 322 alice #b 1 :",
        ":irc.test 323 alice :End of /LIST",
    ]


# -- MODE ------------------------------------------------------------------------------


async def test_channel_mode_query_gets_324_and_329(connect):
    before = int(time.time())
    alice, = await joined(connect, "#a", "alice")
    await alice.send("MODE #a")
    modes = await alice.expect("324")
    assert modes.params == ["alice", "#a", "+nt"]
    created = await alice.expect("329")
    assert created.params[:2] == ["alice", "#a"]
    assert before <= int(created.params[2]) <= time.time()


async def test_channel_mode_query_works_for_non_members(connect):
    await joined(connect, "#a", "alice")
    bob = await connect("bob")
    await bob.send("MODE #a")
    modes = await bob.expect("324")
    assert modes.params == ["bob", "#a", "+nt"]


async def test_ban_list_query_gets_an_empty_list(connect):
    _alice, bob = await joined(connect, "#a", "alice", "bob")
    await bob.send("MODE #a b")
    assert lines(await bob.until_pong()) == [":irc.test 368 bob #a :End of channel ban list"]


async def test_exception_and_invite_list_queries_get_empty_lists(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("MODE #a +e")
    await alice.send("MODE #a I")
    assert lines(await alice.until_pong()) == [
        ":irc.test 349 alice #a :End of channel exception list",
        ":irc.test 347 alice #a :End of channel invite list",
    ]


async def test_mode_change_by_a_non_op_gets_482(connect):
    _alice, bob = await joined(connect, "#a", "alice", "bob")
    await bob.send("MODE #a +m")
    reply = await bob.expect("482")
    assert reply.params == ["bob", "#a", "You're not channel operator"]


async def test_mode_change_by_an_op_gets_472_per_unknown_char(connect):
    alice, = await joined(connect, "#a", "alice")
    await alice.send("MODE #a +mXk-sYX key")
    assert lines(await alice.until_pong()) == [
        ":irc.test 472 alice X :is unknown mode char to me",
        ":irc.test 472 alice Y :is unknown mode char to me",
        ":alice!~user@127.0.0.1 MODE #a +mk key",
    ]


async def test_mode_of_an_unknown_channel_gets_403(connect):
    alice = await connect("alice")
    await alice.send("MODE #nowhere")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#nowhere", "No such channel"]


async def test_user_mode_query_of_self_gets_221(connect):
    alice = await connect("alice")
    await alice.send("MODE Alice")
    reply = await alice.expect("221")
    assert reply.params == ["alice", "+"]


async def test_user_mode_change_of_self_gets_501_for_unknown_flags(connect):
    alice = await connect("alice")
    await alice.send("MODE alice +wZ")
    assert lines(await alice.until_pong()) == [
        ":irc.test 501 alice :Unknown MODE flag",
        ":alice MODE alice +w",
    ]


async def test_user_mode_of_another_user_gets_502(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("MODE bob")
    reply = await alice.expect("502")
    assert reply.params == ["alice", "Can't change mode for other users"]


async def test_user_mode_of_an_unknown_nick_gets_401(connect):
    alice = await connect("alice")
    await alice.send("MODE nobody")
    reply = await alice.expect("401")
    assert reply.params == ["alice", "nobody", "No such nick/channel"]


async def test_mode_without_a_target_gets_461(connect):
    alice = await connect("alice")
    await alice.send("MODE")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "MODE", "Not enough parameters"]
