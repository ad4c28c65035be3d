"""Registration and upkeep over real sockets: PASS NICK USER CAP PING QUIT, auth, pipelining."""

from __future__ import annotations

from conftest import RawClient

MEMORY_AUTH = ("memory:alice:secret:bob:hunter2",)


async def whois_account(client: RawClient, nick: str) -> list[str]:
    """The parameters of the 330 lines a WHOIS of `nick` returns (none when not logged in)."""
    await client.send(f"WHOIS {nick}")
    replies = []
    while True:
        msg = await client.read_message()
        assert msg is not None
        if msg.command == "330":
            replies.append(msg.params)
        if msg.command == "318":
            return replies


async def join(client: RawClient, *channels: str) -> None:
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


# -- the welcome burst -------------------------------------------------------------


async def test_welcome_burst_is_001_to_005_then_lusers_then_motd(connect):
    client = await connect()
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice Liddell")
    await client.expect("376")
    commands = [m.command for m in client.received]
    assert commands == [
        "001", "002", "003", "004", "005", "005",
        "251", "254", "255", "265", "266",
        "375", "372", "376",
    ]
    by_command = {m.command: m for m in client.received}
    assert by_command["002"].params == ["alice", "Your host is irc.test, running version words-0.1.0"]
    assert by_command["004"].params == [
        "alice", "irc.test", "words-0.1.0", "Biow", "Ibeiklmnoprstv", "Ibeklov",
    ]
    isupport = [m for m in client.received if m.command == "005"]
    assert all(m.params[-1] == "are supported by this server" for m in isupport)
    assert all(len(m.params) <= 15 for m in isupport)  # nick + 13 tokens + text
    tokens = [t for m in isupport for t in m.params[1:-1]]
    assert "PREFIX=(ov)@+" in tokens
    assert "CHANTYPES=#" in tokens
    assert by_command["376"].params == ["alice", "End of /MOTD command."]


async def test_user_name_gets_a_tilde_and_is_cleaned(connect):
    client = await connect()
    await client.send("NICK alice")
    await client.send("USER a$l*i:ce 0 * :Alice")
    welcome = await client.expect("001")
    assert welcome.params[-1].endswith(" alice!~alice@127.0.0.1")


# -- CAP ---------------------------------------------------------------------------


async def test_cap_ls_holds_registration_until_cap_end(connect):
    client = await connect()
    await client.send("CAP LS 302")
    reply = await client.expect("CAP")
    assert reply.source == "irc.test"
    assert reply.params == [
        "*", "LS",
        "cap-notify sasl=PLAIN draft/account-registration=before-connect,custom-account-name"
        " server-time message-tags account-tag echo-message multi-prefix userhost-in-names"
        " extended-join away-notify account-notify invite-notify setname chghost extended-monitor"
        " standard-replies batch labeled-response draft/chathistory draft/event-playback",
    ]
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    assert not [m for m in await client.until_pong() if m.command == "001"]
    await client.send("CAP END")
    await client.expect("001", "alice")


async def test_cap_req_of_an_unknown_capability_is_refused_whole(connect):
    client = await connect()
    await client.send("CAP REQ :cap-notify draft/frobnicate")
    reply = await client.expect("CAP")
    assert reply.params == ["*", "NAK", "cap-notify draft/frobnicate"]


async def test_cap_req_holds_registration_until_cap_end(connect):
    client = await connect()
    await client.send("CAP REQ :sasl")
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    assert not [m for m in await client.until_pong() if m.command == "001"]
    await client.send("CAP END")
    await client.expect("001", "alice")


async def test_cap_list_is_empty_without_requests(connect):
    client = await connect("alice")
    await client.send("CAP LIST")
    reply = await client.expect("CAP")
    assert reply.params == ["alice", "LIST", ""]


async def test_cap_unknown_subcommand_gets_410(connect):
    client = await connect()
    await client.send("CAP FROB")
    reply = await client.expect("410")
    assert reply.params == ["*", "FROB", "Invalid CAP command"]


async def test_cap_end_without_negotiation_changes_nothing(connect):
    client = await connect("alice")
    await client.send("CAP END")
    assert await client.until_pong() == []


# -- PING / PONG ---------------------------------------------------------------------


async def test_ping_before_registration_gets_pong(connect):
    client = await connect()
    await client.send("PING :hello there")
    pong = await client.expect("PONG")
    assert pong.source == "irc.test"
    assert pong.params == ["irc.test", "hello there"]


async def test_ping_after_registration_gets_pong(connect):
    client = await connect("alice")
    await client.send("PING 12345")
    pong = await client.expect("PONG")
    assert pong.params == ["irc.test", "12345"]


async def test_pong_gets_no_reply(connect):
    client = await connect("alice")
    await client.send("PONG irc.test")
    assert await client.until_pong() == []


# -- errors around registration ---------------------------------------------------------


async def test_commands_before_registration_get_451(connect):
    client = await connect()
    await client.send("JOIN #a")
    reply = await client.expect("451")
    assert reply.params == ["*", "You have not registered"]


async def test_unknown_command_before_registration_gets_451(connect):
    client = await connect()
    await client.send("FROBNICATE now")
    reply = await client.expect("451")
    assert reply.params == ["*", "You have not registered"]


async def test_unknown_command_after_registration_gets_421(connect):
    client = await connect("alice")
    await client.send("frobnicate now")
    reply = await client.expect("421")
    assert reply.params == ["alice", "frobnicate", "Unknown command"]


async def test_user_with_too_few_params_gets_461(connect):
    client = await connect()
    await client.send("USER alice 0 *")
    reply = await client.expect("461")
    assert reply.params == ["*", "USER", "Not enough parameters"]


async def test_pass_after_registration_gets_462(connect):
    client = await connect("alice")
    await client.send("PASS secret")
    reply = await client.expect("462")
    assert reply.params == ["alice", "You may not reregister"]


async def test_user_after_registration_gets_462(connect):
    client = await connect("alice")
    await client.send("USER alice 0 * :Again")
    reply = await client.expect("462")
    assert reply.params == ["alice", "You may not reregister"]


# -- NICK ----------------------------------------------------------------------------


async def test_nick_without_a_name_gets_431(connect):
    client = await connect()
    await client.send("NICK")
    reply = await client.expect("431")
    assert reply.params == ["*", "No nickname given"]


async def test_nick_starting_with_a_digit_gets_432(connect):
    client = await connect()
    await client.send("NICK 9lives")
    reply = await client.expect("432")
    assert reply.params == ["*", "9lives", "Erroneous nickname"]


async def test_nick_longer_than_nicklen_gets_432(connect):
    client = await connect()
    nick = "a" * 31
    await client.send(f"NICK {nick}")
    reply = await client.expect("432")
    assert reply.params == ["*", nick, "Erroneous nickname"]


async def test_nick_in_use_at_registration_gets_433(connect):
    await connect("alice")
    client = await connect()
    await client.send("NICK ALICE")
    reply = await client.expect("433")
    assert reply.params == ["*", "ALICE", "Nickname is already in use"]
    await client.send("NICK alice2")
    await client.send("USER alice 0 * :Alice")
    await client.expect("001", "alice2")


async def test_nick_change_to_a_nick_in_use_gets_433(connect):
    await connect("alice")
    bob = await connect("bob")
    await bob.send("NICK Alice")
    reply = await bob.expect("433")
    assert reply.params == ["bob", "Alice", "Nickname is already in use"]


async def test_nick_change_after_registration_is_echoed_to_self(connect):
    alice = await connect("alice")
    await alice.send("NICK alicia")
    echo = await alice.expect("NICK")
    assert echo.source == "alice!~user@127.0.0.1"
    assert echo.params == ["alicia"]
    await alice.send("PRIVMSG nobody :x")
    reply = await alice.expect("401")
    assert reply.params[0] == "alicia"


async def test_changing_the_case_of_ones_own_nick_is_allowed(connect):
    alice = await connect("alice")
    await alice.send("NICK ALICE")
    echo = await alice.expect("NICK")
    assert echo.source.startswith("alice!")
    assert echo.params == ["ALICE"]


async def test_nick_change_reaches_each_peer_once_however_many_channels_they_share(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a", "#b", "#c")
    await join(bob, "#a", "#b", "#c")
    await alice.until_pong()
    await bob.until_pong()
    await alice.send("NICK alicia")
    seen_by_alice = [m.to_line() for m in await alice.until_pong()]
    seen_by_bob = [m.to_line() for m in await bob.until_pong()]
    assert seen_by_alice == [":alice!~user@127.0.0.1 NICK alicia"]
    assert seen_by_bob == [":alice!~user@127.0.0.1 NICK alicia"]


async def test_nick_change_is_not_sent_to_users_sharing_no_channel(connect):
    alice = await connect("alice")
    carol = await connect("carol")
    await join(alice, "#a")
    await alice.send("NICK alicia")
    await alice.until_pong()
    assert await carol.until_pong() == []


# -- QUIT ----------------------------------------------------------------------------


async def test_quit_sends_error_to_the_quitter_and_closes(connect):
    alice = await connect("alice")
    await alice.send("QUIT :gone fishing")
    error = await alice.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Quit: gone fishing)"]
    assert await alice.closed()


async def test_quit_without_reason(connect):
    alice = await connect("alice")
    await alice.send("QUIT")
    error = await alice.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Quit)"]


async def test_quit_before_registration_closes(connect):
    client = await connect()
    await client.send("QUIT :bye")
    await client.expect("ERROR")
    assert await client.closed()


async def test_quit_reaches_each_peer_once_however_many_channels_they_share(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a", "#b")
    await join(bob, "#a", "#b")
    await bob.until_pong()
    await alice.send("QUIT :gone fishing")
    assert await alice.closed()
    seen_by_bob = [m.to_line() for m in await bob.until_pong()]
    assert seen_by_bob == [":alice!~user@127.0.0.1 QUIT :Quit: gone fishing"]


async def test_quit_frees_the_nick(connect):
    alice = await connect("alice")
    await alice.send("QUIT")
    assert await alice.closed()
    await connect("alice")


async def test_dropped_connection_is_seen_as_a_quit(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    await alice.close()
    quit_line = await bob.expect("QUIT")
    assert quit_line.source == "alice!~user@127.0.0.1"
    assert quit_line.params == ["Connection closed"]


# -- authentication ------------------------------------------------------------------


async def test_right_password_logs_in_to_the_account(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    alice = await connect("alice", password="secret", port=server.port)
    assert await whois_account(alice, "alice") == [["alice", "alice", "alice", "is logged in as"]]


async def test_account_colon_password_logs_in_under_another_nick(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    client = await connect("wonderland", password="alice:secret", port=server.port)
    assert await whois_account(client, "wonderland") == [
        ["wonderland", "wonderland", "alice", "is logged in as"]
    ]


async def test_wrong_password_gets_464_then_error_and_close(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    client = await connect(port=server.port)
    await client.send("PASS hunter2")  # bob's password, not alice's
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    reply = await client.expect("464")
    assert reply.params == ["alice", "Password incorrect"]
    error = await client.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Bad password)"]
    assert await client.closed()
    assert not [m for m in client.received if m.command == "001"]


async def test_unknown_account_gets_464(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    client = await connect(port=server.port)
    await client.send("PASS carol:whatever")
    await client.send("NICK carol")
    await client.send("USER carol 0 * :Carol")
    reply = await client.expect("464")
    assert reply.params == ["carol", "Password incorrect"]
    assert await client.closed()


async def test_no_password_when_anonymous_is_not_allowed_gets_464(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    client = await connect(port=server.port)
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    reply = await client.expect("464")
    assert reply.params == ["alice", "Password required"]
    error = await client.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Password required)"]
    assert await client.closed()


async def test_anonymous_with_a_password_checker_lets_clients_in_without_pass(start_server, connect):
    server = await start_server(auth=("anonymous", "memory:alice:secret"))
    guest = await connect("guest", port=server.port)
    assert await whois_account(guest, "guest") == []


async def test_anonymous_with_a_password_checker_still_checks_passwords(start_server, connect):
    server = await start_server(auth=("anonymous", "memory:alice:secret"))
    alice = await connect("alice", password="secret", port=server.port)
    assert await whois_account(alice, "alice") == [["alice", "alice", "alice", "is logged in as"]]


async def test_anonymous_users_have_no_account(connect):
    alice = await connect("alice")
    assert await whois_account(alice, "alice") == []


# -- pipelining ----------------------------------------------------------------------


async def pipelined_login(port: int, password: str | None = None) -> RawClient:
    client = await RawClient.connect(port)
    lines = [f"PASS {password}"] if password else []
    lines += ["NICK alice", "USER alice 0 * :Alice", "JOIN #p", "PRIVMSG #p :first words"]
    client.writer.write("".join(line + "\r\n" for line in lines).encode())
    await client.writer.drain()
    return client


async def test_lines_sent_with_registration_are_served_after_the_welcome(connect, server):
    bob = await connect("bob")
    await join(bob, "#p")
    alice = await pipelined_login(server.port)
    try:
        await alice.expect("366", "alice", "#p")
        commands = [m.command for m in alice.received]
        assert commands.index("001") < commands.index("376") < commands.index("JOIN")
        join_line = await bob.expect("JOIN")
        assert join_line.source == "alice!~alice@127.0.0.1"
        said = await bob.expect("PRIVMSG")
        assert said.params == ["#p", "first words"]
    finally:
        await alice.close()


async def test_lines_sent_with_a_password_login_wait_for_the_check(start_server, connect):
    server = await start_server(auth=MEMORY_AUTH)
    bob = await connect("bob", password="hunter2", port=server.port)
    await join(bob, "#p")
    alice = await pipelined_login(server.port, password="secret")
    try:
        await alice.expect("366", "alice", "#p")
        said = await bob.expect("PRIVMSG")
        assert said.source == "alice!~alice@127.0.0.1"
        assert said.params == ["#p", "first words"]
    finally:
        await alice.close()


async def test_lines_sent_with_a_cap_handshake_are_served_after_cap_end(connect, server):
    bob = await connect("bob")
    await join(bob, "#p")
    alice = await RawClient.connect(server.port)
    try:
        lines = ["CAP LS 302", "NICK alice", "USER alice 0 * :Alice", "CAP REQ :sasl", "CAP END",
                 "JOIN #p", "PRIVMSG #p :after the handshake"]
        alice.writer.write("".join(line + "\r\n" for line in lines).encode())
        await alice.expect("366", "alice", "#p")
        commands = [m.command for m in alice.received]
        assert commands[:2] == ["CAP", "CAP"]
        assert commands.index("001") < commands.index("JOIN")
        said = await bob.expect("PRIVMSG")
        assert said.params == ["#p", "after the handshake"]
    finally:
        await alice.close()
