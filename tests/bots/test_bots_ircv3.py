"""IRCv3 on the client side, against a scripted server on a real socket.

Neither words nor ngIRCd offers these capabilities yet (words: sasl and
cap-notify; ngIRCd: multi-prefix), so a small server speaks the lines the
specifications show: multi-line CAP LS 302, ACK, NEW/DEL, message tags
(account, server-time), extended-join, away-notify, echo-message, chghost,
multi-prefix NAMES and a non-default CASEMAPPING.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest

from bots.connector import Backoff, Connector
from bots.testing import HarnessBot

OFFERED_1 = "multi-prefix server-time message-tags unknown-cap"
OFFERED_2 = "account-tag extended-join away-notify echo-message cap-notify chghost sasl=PLAIN"

PLUGIN = '''
from bots import command, require_account, require_owner

@command("whoami")
def whoami(ctx):
    ctx.reply(f"{ctx.account} {ctx.time.year}")

@command("members")
@require_account
def members(ctx):
    ctx.reply("welcome, " + ctx.account)

@command("secret")
@require_owner
def secret(ctx):
    ctx.reply("owner ok")
'''


class ScriptedServer:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.writer: asyncio.StreamWriter | None = None
        self.changed = asyncio.Event()
        self.handler: asyncio.Task | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.handler = asyncio.current_task()
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            self.received.append(line)
            self.changed.set()
            if line == "CAP LS 302":
                self.push(f":srv CAP * LS * :{OFFERED_1}", f":srv CAP * LS :{OFFERED_2}")
            elif line.startswith("CAP REQ "):
                self.push(f":srv CAP bot ACK :{line[8:].lstrip(':')}")
            elif line == "CAP END":
                self.push(":srv 001 bot :Welcome to the network bot!~u@host.example",
                          ":srv 005 bot PREFIX=(qaohv)~&@%+ CHANMODES=beI,k,l,imnst"
                          " CASEMAPPING=ascii LINELEN=1024 :are supported", ":srv 422 bot :No MOTD")
            elif line.startswith("JOIN "):
                self.push(":bot!~u@host.example JOIN #c * :bot",
                          ":srv 353 bot = #c :~@owner +voiced bot", ":srv 366 bot #c :End")
        writer.close()

    def push(self, *lines: str) -> None:
        assert self.writer is not None
        self.writer.write("".join(line + "\r\n" for line in lines).encode())

    async def wait_for(self, text: str, timeout: float = 5) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for line in self.received:
                if text in line:
                    self.received.remove(line)
                    return line
            self.changed.clear()
            left = deadline - loop.time()
            assert left > 0, f"the bot never sent {text!r}; got {self.received}"
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


@pytest.fixture
async def scripted(tmp_path, monkeypatch):
    (tmp_path / "v3_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    script = ScriptedServer()
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bot = HarnessBot("bot", channels=["#c"], owners=["alice"], burst=50, rate=500)
    await bot.load_plugin("v3_plugin")
    connector = Connector(bot, "127.0.0.1", port, backoff=Backoff(initial=0.05))
    task = asyncio.create_task(connector.run())
    await bot.wait_event("joined")
    await bot.wait_event("names_received")
    yield script, bot
    connector.stop()
    script.writer.close()  # the server hangs up: the bot's connector ends, the handler too
    await asyncio.wait_for(task, 5)
    await asyncio.wait_for(script.handler, 5)
    await bot.close()
    server.close()
    await server.wait_closed()
    sys.modules.pop("v3_plugin", None)


async def test_caps_isupport_and_multi_prefix(scripted):
    _, bot = scripted
    assert bot.caps == {"multi-prefix", "server-time", "message-tags", "account-tag",
                        "extended-join", "away-notify", "echo-message", "cap-notify", "chghost"}
    assert bot.userhost == "~u@host.example"
    assert bot.isupport.casemapping == "ascii" and bot.isupport.linelen == 1024
    assert bot.fold("[Owner]") == "[owner]"  # ascii: brackets are not letters
    members = bot.channels["#c"].members
    assert members == {"owner": "~@", "voiced": "+", "bot": ""}
    assert bot.is_chanop("#c", "owner") and not bot.is_chanop("#c", "voiced")


async def test_account_and_server_time_tags(scripted):
    script, _bot = scripted
    script.push("@account=alice;time=2020-01-02T03:04:05.000Z :alice!a@h PRIVMSG #c :!whoami")
    assert (await script.wait_for("PRIVMSG #c")).endswith(":alice: alice 2020")
    script.push(":bob!b@h PRIVMSG #c :!members")
    assert await script.wait_for("NOTICE bob") == "NOTICE bob :You must be logged in to an account for that."
    script.push("@account=bobby :bob!b@h PRIVMSG #c :!members")
    assert (await script.wait_for("PRIVMSG #c")).endswith(":bob: welcome, bobby")


async def test_owner_by_account_before_hostmask(scripted):
    script, bot = scripted
    bot.owner_masks = ["nobody!*@*"]
    script.push("@account=alice :someone!x@elsewhere PRIVMSG #c :!secret")
    assert (await script.wait_for("PRIVMSG #c")).endswith(":someone: owner ok")
    script.push("@account=mallory :alice!a@h PRIVMSG #c :!secret")
    assert "Only the bot's owners" in await script.wait_for("NOTICE alice")


async def test_extended_join_away_chghost_and_echo(scripted):
    script, bot = scripted
    script.push(":carol!c@h JOIN #c carolacct :Carol Real")
    await bot.wait_event("user_joined", lambda n, c: n == "carol")
    carol = bot.users["carol"]
    assert (carol.account, carol.realname) == ("carolacct", "Carol Real")
    script.push(":carol!c@h AWAY :lunch", ":carol!c@h CHGHOST newc new.host")
    script.push(":bot!~u@host.example PRIVMSG #c :my own words")
    await bot.wait_event("echoed")
    assert not [e for e in bot.events if e[0] == "privmsg" and e[1][2] == "my own words"]
    assert (carol.away, carol.user, carol.host) == ("lunch", "newc", "new.host")
    script.push(":bot!~u@host.example CHGHOST ~v cloaked.example")
    script.push(":carol!c@h ACCOUNT *")
    await bot.wait_event("line_received", lambda m: m.command == "ACCOUNT")
    assert bot.userhost == "~v@cloaked.example" and carol.account is None


async def test_cap_new_and_del(scripted):
    script, bot = scripted
    script.push(":srv CAP bot DEL :away-notify")
    script.push(":srv CAP bot NEW :batch labeled-response")
    assert await script.wait_for("CAP REQ batch") == "CAP REQ batch"  # only what it wants
    await bot.wait_event("line_received", lambda m: m.command == "CAP" and m.params[1] == "ACK"
                         and m.params[-1] == "batch")
    assert "away-notify" not in bot.caps and "batch" in bot.caps
