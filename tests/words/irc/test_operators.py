"""Server operators over real sockets: OPER KILL WALLOPS REHASH DIE RESTART."""

from __future__ import annotations

import logging
import textwrap

import pytest
from support import RawClient, free_port, wait_for_port

from words.config import Oper
from words.cred import PasswordHasher

HASHER = PasswordHasher.from_config({"ln": 4})
ROOT_HASH = HASHER.hash("sesame")
FAR_HASH = HASHER.hash("faraway")
OPERS = (
    Oper("root", ROOT_HASH, hosts=("~user@127.0.0.1",)),
    Oper("far", FAR_HASH, hosts=("*@10.9.9.9",)),
)


@pytest.fixture
async def server(start_server):
    """The `connect` fixture's server, with two opers: root (from here) and far (not)."""
    return await start_server(opers=OPERS)


async def oper_up(client: RawClient) -> None:
    await client.send("OPER root sesame")
    await client.expect("381", client.nick)


async def join(client: RawClient, channel: str) -> None:
    await client.send(f"JOIN {channel}")
    await client.expect("366", client.nick, channel)


# -- OPER ------------------------------------------------------------------------------


async def test_oper_sets_user_mode_o_and_replies_381(connect):
    alice = await connect("alice")
    await alice.send("OPER root sesame")
    mode = await alice.expect("MODE")
    assert mode.to_line() == ":alice MODE alice +o"
    reply = await alice.expect("381")
    assert reply.params == ["alice", "You are now an IRC operator"]


async def test_commands_pipelined_after_oper_wait_for_its_answer(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("MODE bob +w")
    await bob.expect("MODE")
    alice.writer.write(b"OPER root sesame\r\nWALLOPS :right after OPER\r\n")
    await alice.expect("381")
    wallops = await bob.expect("WALLOPS")
    assert wallops.params == ["right after OPER"]
    assert not [m for m in alice.received if m.command == "481"]


async def test_oper_is_counted_in_lusers(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("LUSERS")
    reply = await alice.expect("252")
    assert reply.params == ["alice", "1", "operator(s) online"]


async def test_oper_with_a_wrong_password_is_464(connect):
    alice = await connect("alice")
    await alice.send("OPER root wrong")
    reply = await alice.expect("464")
    assert reply.params == ["alice", "Password incorrect"]
    assert not [m for m in await alice.until_pong() if m.command == "MODE"]


async def test_oper_from_a_host_not_allowed_is_491(connect):
    alice = await connect("alice")
    await alice.send("OPER far faraway")
    reply = await alice.expect("491")
    assert reply.params == ["alice", "No O-lines for your host"]


async def test_oper_from_a_wrong_host_says_491_whatever_the_password(connect):
    # From a host that may not use the block, the reply tells nothing about the password.
    alice = await connect("alice")
    await alice.send("OPER far wrong")
    reply = await alice.expect("491")
    assert reply.params == ["alice", "No O-lines for your host"]


async def test_oper_with_an_unknown_name_is_491(connect):
    alice = await connect("alice")
    await alice.send("OPER nobody sesame")
    reply = await alice.expect("491")
    assert reply.params == ["alice", "No O-lines for your host"]


async def test_a_wrong_host_costs_a_password_check(server, connect):
    checked = []
    checker = server.oper_checker
    original = checker.request_avatar_id

    async def spy(credentials):
        checked.append(credentials.username)
        return await original(credentials)

    checker.request_avatar_id = spy
    alice = await connect("alice")
    await alice.send("OPER far faraway")
    await alice.expect("491")
    assert checked == ["far"]


async def test_oper_needs_two_parameters(connect):
    alice = await connect("alice")
    await alice.send("OPER root")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "OPER", "Not enough parameters"]


async def test_oper_before_registration_is_451(connect):
    client = await connect()
    await client.send("OPER root sesame")
    reply = await client.expect("451")
    assert reply.params == ["*", "You have not registered"]


async def test_oper_on_a_server_without_opers_is_491(start_server):
    server = await start_server()
    client = await RawClient.connect(server.port)
    try:
        await client.register("alice")
        await client.send("OPER root sesame")
        reply = await client.expect("491")
        assert reply.params == ["alice", "No O-lines for your host"]
    finally:
        await client.close()


async def test_failed_and_successful_opers_are_logged(connect, caplog):
    caplog.set_level(logging.INFO, logger="words.irc")
    alice = await connect("alice")
    await alice.send("OPER root wrong")
    await alice.expect("464")
    await oper_up(alice)
    messages = [r.getMessage() for r in caplog.records if r.name == "words.irc"]
    assert any("failed OPER as 'root': wrong password" in m for m in messages)
    assert any("OPER as 'root' by alice!~user@127.0.0.1" in m for m in messages)


async def test_mode_minus_o_drops_operator_privileges(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("MODE alice -o")
    mode = await alice.expect("MODE")
    assert mode.params == ["alice", "-o"]
    await alice.send("WALLOPS :still here?")
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]


# -- KILL ------------------------------------------------------------------------------


async def test_kill_disconnects_the_victim_with_error(connect):
    alice, bob = await connect("alice"), await connect("bob")
    await oper_up(alice)
    await alice.send("KILL bob :spamming")
    error = await bob.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Killed (alice (spamming)))"]
    assert await bob.closed()


async def test_kill_tells_the_victims_channels_once(connect):
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    for channel in ("#a", "#b"):
        await join(bob, channel)
        await join(carol, channel)
    await oper_up(alice)
    await alice.send("KILL bob :spamming")
    quit_ = await carol.expect("QUIT")
    assert quit_.to_line() == ":bob!~user@127.0.0.1 QUIT :Killed (alice (spamming))"
    assert not [m for m in await carol.until_pong() if m.command == "QUIT"]
    # The oper shares no channel with bob: no QUIT for alice.
    assert not [m for m in await alice.until_pong() if m.command == "QUIT"]


async def test_kill_frees_the_nick(connect):
    alice, bob = await connect("alice"), await connect("bob")
    await oper_up(alice)
    await alice.send("KILL bob :bye")
    assert await bob.closed()
    again = await connect("bob")
    assert again.nick == "bob"


async def test_kill_by_a_non_oper_is_481(connect):
    alice, bob = await connect("alice"), await connect("bob")
    await alice.send("KILL bob :spamming")
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]
    assert not [m for m in await bob.until_pong() if m.command == "ERROR"]


async def test_kill_of_an_unknown_nick_is_401(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("KILL nobody :bye")
    reply = await alice.expect("401")
    assert reply.params == ["alice", "nobody", "No such nick/channel"]


async def test_kill_needs_a_reason(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("KILL bob")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "KILL", "Not enough parameters"]


# -- WALLOPS ---------------------------------------------------------------------------


async def test_wallops_reaches_users_with_plus_w_only(connect):
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await bob.send("MODE bob +w")
    await bob.expect("MODE", "bob", "+w")
    await oper_up(alice)
    await alice.send("WALLOPS :maintenance at noon")
    wallops = await bob.expect("WALLOPS")
    assert wallops.to_line() == ":alice!~user@127.0.0.1 WALLOPS :maintenance at noon"
    assert not [m for m in await carol.until_pong() if m.command == "WALLOPS"]
    # The sender has no +w: it does not get its own WALLOPS either.
    assert not [m for m in await alice.until_pong() if m.command == "WALLOPS"]


async def test_wallops_by_a_non_oper_is_481(connect):
    alice, bob = await connect("alice"), await connect("bob")
    await bob.send("MODE bob +w")
    await bob.expect("MODE", "bob", "+w")
    await alice.send("WALLOPS :hello")
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]
    assert not [m for m in await bob.until_pong() if m.command == "WALLOPS"]


async def test_wallops_needs_text(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("WALLOPS")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "WALLOPS", "Not enough parameters"]


# -- REHASH ----------------------------------------------------------------------------


def write_config(path, motd: str, opers: bool = True) -> None:
    oper_block = f"""
        opers:
          - name: root
            password: "{ROOT_HASH}"
            hosts: ["~user@127.0.0.1"]
    """ if opers else ""
    path.write_text(textwrap.dedent(f"""
        server: {{name: irc.test, network: TestNet, motd: "{motd}"}}
        hashing: {{ln: 4}}
        limits: {{flood_burst: 100000, flood_rate: 100000}}
    """) + textwrap.dedent(oper_block))


@pytest.fixture
async def rehash_server(start_server, tmp_path):
    path = tmp_path / "words.yaml"
    write_config(path, "before")
    server = await start_server(opers=OPERS[:1], motd="before", source=str(path))
    server.config_path = path
    return server


async def test_rehash_reloads_the_config_and_replies_382(rehash_server):
    alice = await RawClient.connect(rehash_server.port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        write_config(rehash_server.config_path, "after")
        await alice.send("REHASH")
        reply = await alice.expect("382")
        assert reply.params == ["alice", str(rehash_server.config_path), "Rehashing"]
        await alice.send("MOTD")
        motd = await alice.expect("372")
        assert motd.params == ["alice", "- after"]
    finally:
        await alice.close()


async def test_rehash_keeps_connections(rehash_server):
    alice, bob = await RawClient.connect(rehash_server.port), await RawClient.connect(rehash_server.port)
    try:
        await alice.register("alice")
        await bob.register("bob")
        await oper_up(alice)
        await alice.send("REHASH")
        await alice.expect("382")
        await alice.send("PRIVMSG bob :still there?")
        msg = await bob.expect("PRIVMSG")
        assert msg.params == ["bob", "still there?"]
    finally:
        await alice.close()
        await bob.close()


async def test_rehash_with_a_broken_file_keeps_the_old_config(rehash_server):
    alice = await RawClient.connect(rehash_server.port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        rehash_server.config_path.write_text("limits: {nicklen: -3}\n")
        await alice.send("REHASH")
        notice = await alice.expect("NOTICE")
        assert notice.params[0] == "alice"
        assert notice.params[1].startswith("*** REHASH failed, the old configuration is kept: ")
        assert "limits.nicklen: must be at least 1" in notice.params[1]
        await alice.send("MOTD")
        motd = await alice.expect("372")
        assert motd.params == ["alice", "- before"]
    finally:
        await alice.close()


async def test_rehash_that_removes_an_oper_block_deopers_its_users(rehash_server):
    alice = await RawClient.connect(rehash_server.port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        write_config(rehash_server.config_path, "after", opers=False)
        await alice.send("REHASH")
        notice = await alice.expect("NOTICE")
        assert notice.params == ["alice", "*** Your operator block was removed from the configuration"]
        mode = await alice.expect("MODE")
        assert mode.params == ["alice", "-o"]
        await alice.expect("382")
        await alice.send("REHASH")
        reply = await alice.expect("481")
        assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]
    finally:
        await alice.close()


async def test_rehash_without_a_config_file_says_so(connect):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send("REHASH")
    notice = await alice.expect("NOTICE")
    assert notice.params == [
        "alice",
        "*** REHASH failed, the old configuration is kept: the server was started without a config file",
    ]


async def test_rehash_by_a_non_oper_is_481(connect):
    alice = await connect("alice")
    await alice.send("REHASH")
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]


# -- DIE and RESTART (refusals in process; the real thing through `words serve`) --------


@pytest.mark.parametrize("command", ["DIE", "RESTART"])
async def test_die_and_restart_by_a_non_oper_are_481(connect, server, command):
    alice = await connect("alice")
    await alice.send(command)
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]
    assert not server.shutdown_requested.is_set()


@pytest.mark.parametrize("command", ["DIE", "RESTART"])
async def test_die_and_restart_are_481_unless_the_config_allows_them(connect, server, command):
    alice = await connect("alice")
    await oper_up(alice)
    await alice.send(command)
    reply = await alice.expect("481")
    assert reply.params == [
        "alice",
        f"Permission Denied- {command} is disabled in the configuration (allow_{command.lower()})",
    ]
    assert not server.shutdown_requested.is_set()


def serve_config(tmp_path, **flags: bool) -> str:
    path = tmp_path / "words.yaml"
    allowed = "".join(f"{key}: {'true' if value else 'false'}\n" for key, value in flags.items())
    path.write_text(textwrap.dedent(f"""
        server: {{name: irc.test, network: TestNet}}
        hashing: {{ln: 4}}
        opers:
          - name: root
            password: "{ROOT_HASH}"
            hosts: ["*@127.0.0.1"]
    """) + allowed)
    return str(path)


async def test_die_stops_words_serve_and_tells_every_client(tmp_path, words_process):
    port = free_port()
    proc = words_process("--config", serve_config(tmp_path, allow_die=True), port=port)
    alice, bob = await RawClient.connect(port), await RawClient.connect(port)
    try:
        await alice.register("alice")
        await bob.register("bob")
        await oper_up(alice)
        await alice.send("DIE")
        for client in (alice, bob):
            error = await client.expect("ERROR")
            assert error.params == ["Closing Link: 127.0.0.1 (Server shutting down (DIE by alice))"]
            assert await client.closed()
        assert proc.wait(timeout=5) == 0
    finally:
        await alice.close()
        await bob.close()


async def test_restart_serves_again_on_the_same_port(tmp_path, words_process):
    port = free_port()
    proc = words_process("--config", serve_config(tmp_path, allow_restart=True), port=port)
    alice = await RawClient.connect(port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        await alice.send("JOIN #before")
        await alice.expect("366")
        await alice.send("RESTART")
        error = await alice.expect("ERROR")
        assert error.params == ["Closing Link: 127.0.0.1 (Server restarting (RESTART by alice))"]
        assert await alice.closed()
    finally:
        await alice.close()
    wait_for_port(port, proc=proc)
    assert proc.poll() is None  # the same process, executed anew
    again = await RawClient.connect(port)
    try:
        await again.register("alice")  # the nick is free: a new server
        await again.send("LIST")
        await again.expect("321")
        end = await again.read_message()
        assert end.command == "323"  # #before is gone with the old server
    finally:
        await again.close()


async def test_restart_is_refused_when_only_die_is_allowed(tmp_path, words_process):
    port = free_port()
    proc = words_process("--config", serve_config(tmp_path, allow_die=True), port=port)
    alice = await RawClient.connect(port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        await alice.send("RESTART")
        reply = await alice.expect("481")
        assert reply.params[1] == "Permission Denied- RESTART is disabled in the configuration (allow_restart)"
        assert proc.poll() is None
    finally:
        await alice.close()


# -- what opers do is logged -------------------------------------------------------------


def oper_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "words.irc"]


async def test_kill_wallops_unkline_and_undline_are_logged(connect, caplog):
    caplog.set_level(logging.INFO, logger="words.irc")
    alice, bob = await connect("alice"), await connect("bob")
    await oper_up(alice)
    await alice.send("WALLOPS :maintenance at noon")
    await alice.send("KLINE *@10.1.1.1 :x")
    await alice.send("DLINE 10.2.0.0/16 :y")
    await alice.send("UNKLINE *@10.1.1.1")
    await alice.send("UNDLINE 10.2.0.0/16")
    await alice.send("UNKLINE *@10.3.3.3")  # none: nothing lifted, nothing logged
    await alice.send("KILL bob :spamming")
    assert await bob.closed()
    await alice.until_pong()
    lines = oper_lines(caplog)
    for line in ("WALLOPS by alice (oper root): maintenance at noon",
                 "K-line *@10.1.1.1 removed by alice (oper root)",
                 "D-line 10.2.0.0/16 removed by alice (oper root)",
                 "KILL bob by alice (oper root): spamming"):
        assert line in lines, (line, lines)
    assert not [line for line in lines if "10.3.3.3" in line]


async def test_rehash_is_logged(rehash_server, caplog):
    caplog.set_level(logging.INFO, logger="words.irc")
    alice = await RawClient.connect(rehash_server.port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        await alice.send("REHASH")
        await alice.expect("382")
        rehash_server.config_path.write_text("limits: {nicklen: -3}\n")
        await alice.send("REHASH")
        await alice.expect("NOTICE")
    finally:
        await alice.close()
    lines = oper_lines(caplog)
    assert lines.count("REHASH by alice (oper root)") == 2
    assert f"configuration reloaded from {rehash_server.config_path}" in lines
    assert any(line.startswith("REHASH refused: ") and "limits.nicklen: must be at least 1" in line
               for line in lines), lines


@pytest.mark.parametrize("command", ["DIE", "RESTART"])
async def test_die_and_restart_are_logged(start_server, command, caplog):
    caplog.set_level(logging.INFO, logger="words.irc")
    server = await start_server(opers=OPERS, allow_die=True, allow_restart=True)
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        await oper_up(alice)
        await alice.send(command)
        await alice.until_pong()
    finally:
        await alice.close()
    assert server.shutdown_requested.is_set() and server.restart_requested == (command == "RESTART")
    assert f"{command} by alice (oper root)" in oper_lines(caplog)


# -- oper override ------------------------------------------------------------------------

OVERRIDE = Oper("over", ROOT_HASH, hosts=("~user@127.0.0.1",), override=True)


async def test_oper_override_passes_channel_rules_and_is_logged(start_server, caplog):
    """An oper whose block has `override: true` joins past +i/+k/+b, speaks past +m/+n and
    acts as a channel operator; each time it is logged. Without it, the rules hold."""
    caplog.set_level(logging.INFO, logger="words.irc")
    server = await start_server(opers=(OPERS[0], OVERRIDE))
    clients = [await RawClient.connect(server.port) for _ in range(3)]
    owner, over, root = clients
    try:
        for client, nick in zip(clients, ("owner", "over", "root")):
            await client.register(nick)
        await join(owner, "#club")
        await owner.send("MODE #club +imnk-t secret")
        await owner.expect("MODE", "#club")
        await owner.send("MODE #club +b *!*@127.0.0.1")
        await owner.expect("MODE", "#club")
        await over.send("OPER over sesame")
        await over.expect("381")
        await oper_up(root)
        await over.send("MODE #club b")  # anyone may list bans: no override, not logged
        await over.expect("368")

        await root.send("JOIN #club")
        assert (await root.expect("474")).params[1:] == ["#club", "Cannot join channel (+b)"]
        await root.send("PRIVMSG #club :from outside")
        assert (await root.expect("404")).params[1:] == ["#club", "Cannot send to channel (no external messages)"]
        await root.send("TOPIC #club :not mine")
        await root.expect("442")

        await over.send("PRIVMSG #club :from outside")
        assert (await owner.expect("PRIVMSG", "#club")).params[1] == "from outside"
        await join(over, "#club")
        await over.send("PRIVMSG #club :inside, moderated")
        assert (await owner.expect("PRIVMSG", "#club")).params[1] == "inside, moderated"
        await over.send("MODE #club +v over")
        assert (await owner.expect("MODE", "#club")).params[1:] == ["+v", "over"]
        await over.send("KICK #club owner :mine now")
        assert (await owner.expect("KICK", "#club")).params[1:] == ["owner", "mine now"]
        await over.until_pong()
    finally:
        for client in clients:
            await client.close()
    override = [line for line in oper_lines(caplog) if line.startswith("oper override")]
    assert override == [
        "oper override by over (oper over): PRIVMSG past (no external messages) on #club",
        "oper override by over (oper over): JOIN past (+b) on #club",
        "oper override by over (oper over): PRIVMSG past (+m) on #club",
        "oper override by over (oper over): acts as channel operator on #club",
        "oper override by over (oper over): acts as channel operator on #club",
    ]


async def test_the_abuse_limits_follow_a_rehash(start_server, tmp_path):
    """max_per_ip, input pacing and sendq as the file says after a REHASH, for new and open
    connections alike."""
    import asyncio
    import socket

    path = tmp_path / "words.yaml"

    def write(limits: str) -> None:
        path.write_text(textwrap.dedent(f"""
            server: {{name: irc.test}}
            hashing: {{ln: 4}}
            opers: [{{name: root, password: "{ROOT_HASH}", hosts: ["*@127.0.0.1"]}}]
            limits: {{per_ip_exempt: [], {limits}}}
        """))

    async def from_address(address: str, rcvbuf: int | None = None) -> RawClient:
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((address, 0))
        sock.connect(("127.0.0.1", server.port))
        return RawClient(*await asyncio.open_connection(sock=sock))

    loose = "max_per_ip: 1, flood_burst: 100000, flood_rate: 100000, sendq: 67108864"
    write(loose)
    server = await start_server(source=str(path), opers=OPERS[:1], limits={
        "per_ip_exempt": (), "max_per_ip": 1, "sendq": 67108864})
    clients = []
    try:
        boss = await from_address("127.0.0.1")
        clients.append(boss)
        await boss.register("boss")
        await oper_up(boss)
        first = await from_address("127.0.0.5")
        clients.append(first)
        await first.register("first")
        refused = await from_address("127.0.0.5")
        clients.append(refused)
        assert (await refused.expect("ERROR")).params[0].endswith("(Too many connections from your host)")

        write("max_per_ip: 2, flood_burst: 5, flood_rate: 1, flood_max_queued: 3, sendq: 65536")
        await boss.send("REHASH")
        await boss.expect("382")
        second = await from_address("127.0.0.5")  # max_per_ip 2 now
        clients.append(second)
        await second.register("second")
        third = await from_address("127.0.0.5")
        clients.append(third)
        assert (await third.expect("ERROR")).params[0].endswith("(Too many connections from your host)")
        # Pacing: a burst past flood_burst + flood_max_queued cuts an open connection.
        first.writer.write(b"".join(b"PRIVMSG boss :%d\r\n" % i for i in range(20)))
        assert (await first.expect("ERROR")).params[0].endswith("(Excess Flood)")
        # sendq: an open connection that stops reading is cut at 64 KiB queued.
        slow = await from_address("127.0.0.6", rcvbuf=4096)
        clients.append(slow)
        await slow.register("slow")
        for client in (slow, boss):  # boss is an oper: not paced
            await join(client, "#q")
        await slow.until_pong()
        slow.writer.transport.pause_reading()
        text = b"x" * 400
        for _ in range(500):  # 20 MB at most, far below the old sendq
            if server.sendq_disconnects:
                break
            await boss.send(b"\r\n".join(b"PRIVMSG #q :%d %s" % (i, text) for i in range(100)))
            await boss.until_pong()
        assert server.sendq_disconnects == 1
        assert "slow" not in [user.name for user in server.realm.users.values() if user.online]
    finally:
        for client in clients:
            await client.close()
