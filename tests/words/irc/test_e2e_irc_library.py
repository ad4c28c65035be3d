"""End to end: jaraco's `irc` library (an independent, well-known IRC client) against
`words serve` started from the command line, each step checked from the other side by
a raw client."""

from __future__ import annotations

import asyncio

import irc.client
import irc.client_aio
import pytest
from support import TIMEOUT, RawClient, free_port


class LibraryClient:
    """An irc.client_aio connection in this test's event loop, its events in a queue."""

    def __init__(self) -> None:
        self.reactor = irc.client_aio.AioReactor(loop=asyncio.get_running_loop())
        self.events: asyncio.Queue[irc.client.Event] = asyncio.Queue()
        self.reactor.add_global_handler("all_events", self._queue, -20)
        self.connection = self.reactor.server()

    def _queue(self, connection, event: irc.client.Event) -> None:
        self.events.put_nowait(event)

    async def event(self, kind: str, *, target: str | None = None) -> irc.client.Event:
        """The next event of this type (and target), skipping others, within a deadline."""
        async def wait() -> irc.client.Event:
            while True:
                event = await self.events.get()
                if event.type == kind and (target is None or event.target == target):
                    return event
        try:
            return await asyncio.wait_for(wait(), TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"the irc library saw no {kind} event") from None


@pytest.fixture
async def words_server(words_process):
    port = free_port()
    words_process(port=port)
    return port


@pytest.fixture
async def watcher(words_server):
    client = await RawClient.connect(words_server)
    await client.register("watcher")
    for channel in ("#e2e", "#lobby"):
        await client.send(f"JOIN {channel}")
        await client.expect("366", "watcher", channel)
    yield client
    await client.close()


@pytest.fixture
async def library(words_server):
    client = LibraryClient()
    yield client
    if client.connection.connected:
        client.connection.disconnect()


async def test_the_irc_library_connects_joins_talks_renames_parts_and_quits(
    words_server, watcher, library
):
    conn = library.connection
    # Connect: the library registers and gets the welcome.
    await conn.connect("127.0.0.1", words_server, "jaraco", username="jaraco", ircname="Jason")
    welcome = await library.event("welcome")
    assert welcome.target == "jaraco"
    assert conn.get_server_name() == "words.local"  # the default config's name
    watcher_view = await watcher.until_pong()
    assert watcher_view == []  # nothing shared yet

    # Join: the watcher sees the library arrive in both channels.
    conn.join("#e2e")
    joined = await watcher.expect("JOIN", "#e2e")
    assert joined.source == "jaraco!~jaraco@127.0.0.1"
    names = await library.event("namreply")
    assert set(names.arguments[2].split()) == {"@watcher", "jaraco"}
    conn.join("#lobby")
    await watcher.expect("JOIN", "#lobby")

    # Message, both ways.
    conn.privmsg("#e2e", "hello from the irc library")
    said = await watcher.expect("PRIVMSG")
    assert said.source == "jaraco!~jaraco@127.0.0.1"
    assert said.params == ["#e2e", "hello from the irc library"]
    await watcher.send("PRIVMSG #e2e :hello, library")
    heard = await library.event("pubmsg", target="#e2e")
    assert heard.source.nick == "watcher"
    assert heard.arguments == ["hello, library"]
    await watcher.send("PRIVMSG jaraco :just you")
    private = await library.event("privmsg")
    assert private.arguments == ["just you"]

    # Change nick: the watcher sees it once, the library knows its new name.
    conn.nick("jaraco2")
    renamed = await watcher.expect("NICK")
    assert renamed.source == "jaraco!~jaraco@127.0.0.1"
    assert renamed.params == ["jaraco2"]
    await library.event("nick")
    assert conn.get_nickname() == "jaraco2"
    assert [m for m in await watcher.until_pong() if m.command == "NICK"] == []

    # Part one channel, with a reason (one word: the library sends it without a ':').
    conn.part("#e2e", "bored")
    parted = await watcher.expect("PART")
    assert parted.source == "jaraco2!~jaraco@127.0.0.1"
    assert parted.params == ["#e2e", "bored"]

    # Quit: the watcher, still sharing #lobby, sees the QUIT; the library is disconnected.
    conn.quit("see you")
    quit_ = await watcher.expect("QUIT")
    assert quit_.source == "jaraco2!~jaraco@127.0.0.1"
    assert quit_.params == ["Quit: see you"]
    await library.event("disconnect")
    await watcher.send("ISON jaraco2")
    ison = await watcher.expect("303")
    assert ison.params == ["watcher", ""]
