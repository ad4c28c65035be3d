"""The echo bot against words and ngIRCd: in-process, and as `python -m bots.echo`."""

from __future__ import annotations

import asyncio
import sys

from support import REPO, free_port

from bots.echo import EchoBot
from bots.testing import RecordingMixin


class Echo(RecordingMixin, EchoBot):
    pass


async def echo_and_alice(irc_server, run_bot, raw_client, channel="botland"):
    bot = await run_bot(Echo(channel, burst=20, rate=100), irc_server.port)
    await bot.wait_event("joined", lambda ch: ch == "#botland")
    alice = await raw_client(irc_server.port, "alice")
    await alice.send("JOIN #botland")
    await alice.expect("366")
    return bot, alice


async def test_echoes_private_messages(irc_server, run_bot, raw_client):
    _bot, alice = await echo_and_alice(irc_server, run_bot, raw_client)
    await alice.send("PRIVMSG echobot :hello there")
    reply = await alice.expect("PRIVMSG", "alice")
    assert reply.nick == "echobot" and reply.params[1] == "hello there"


async def test_answers_its_name_in_the_channel_and_ignores_the_rest(irc_server, run_bot, raw_client):
    _bot, alice = await echo_and_alice(irc_server, run_bot, raw_client)
    await alice.send("PRIVMSG #botland :just chatting")
    await alice.send("PRIVMSG #botland :echobot: are you there?")
    reply = await alice.expect("PRIVMSG", "#botland")
    assert reply.params[1] == "alice: are you there?"  # the first line got no answer


async def test_imitates_actions(irc_server, run_bot, raw_client):
    _bot, alice = await echo_and_alice(irc_server, run_bot, raw_client)
    await alice.send("PRIVMSG #botland :\x01ACTION dances\x01")
    reply = await alice.expect("PRIVMSG", "#botland")
    assert reply.nick == "echobot" and reply.params[1] == "\x01ACTION dances\x01"


async def test_reconnects_and_rejoins_when_dropped(start_server, run_bot, raw_client):
    server = await start_server()
    bot = await run_bot(Echo("#botland", burst=20, rate=100), server.port)
    await bot.wait_event("joined")
    mark = bot.mark()
    for conn in list(server.connections):
        conn.close("dropped for the test")
    await bot.wait_event("connection_closed", start=mark)
    await bot.wait_event("joined", start=mark, timeout=10)
    alice = await raw_client(server.port, "alice")
    await alice.send("PRIVMSG echobot :back?")
    assert (await alice.expect("PRIVMSG", "alice")).params[1] == "back?"


async def run_echo_process(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.echo", *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_command_line_echo_bot(irc_server, raw_client):
    alice = await raw_client(irc_server.port, "alice")
    await alice.send("JOIN #cli")
    await alice.expect("366")
    proc = await run_echo_process("127.0.0.1", str(irc_server.port), "cli")
    try:
        joined = await alice.expect("JOIN", "#cli", timeout=15)
        assert joined.nick == "echobot"
        await alice.send("PRIVMSG #cli :echobot: from the shell")
        assert (await alice.expect("PRIVMSG", "#cli")).params[1] == "alice: from the shell"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0  # SIGTERM: QUIT and a clean exit


async def test_command_line_stops_when_the_connection_cannot_be_made():
    proc = await run_echo_process("127.0.0.1", str(free_port()), "#nowhere")
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 1
    assert b"cannot connect" in err


async def test_command_line_wrong_password_exits(start_server):
    server = await start_server(auth=("memory:echobot:right",))
    proc = await run_echo_process("127.0.0.1", str(server.port), "#x", "--password", "wrong")
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2
    assert b"password incorrect" in err
