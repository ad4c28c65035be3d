"""Testing bots against a real server: recording clients, a test user, a harness.

    h = await start_harness("dice")          # a words server, a Bot, a user
    assert await h.say("!roll 1d1") == ["tester: 1d1 = 1 (1)"]
    await h.close()

or, with pytest (and pytest-asyncio), the `bot_harness` fixture of
`bots.pytest_plugin`. Waits have deadlines; nothing sleeps: the harness knows
the bot is done answering when a marker line it makes the bot send arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bots.client import IRCClient
from bots.connector import Backoff, Connector
from bots.framework import Bot
from words.irc.codec import Message, decode_line, parse_line

__all__ = [
    "BotHarness",
    "HarnessBot",
    "RecordingClient",
    "RecordingMixin",
    "TestUser",
    "start_harness",
    "start_words_server",
]

TIMEOUT = 10.0


class RecordingMixin:
    """Records every event method call as (name, args)."""

    def _fire(self, name: str, *args) -> None:
        self.__dict__.setdefault("events", []).append((name, args))
        self.__dict__.setdefault("_event_flag", asyncio.Event()).set()
        super()._fire(name, *args)  # type: ignore[misc]

    async def wait_event(self, name: str, pred: Callable[..., bool] = lambda *a: True,
                         timeout: float = 5.0, start: int = 0) -> tuple:
        """The args of the first `name` event (from index `start`) satisfying `pred`."""
        flag = self.__dict__.setdefault("_event_flag", asyncio.Event())
        events = self.__dict__.setdefault("events", [])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for event, args in events[start:]:
                if event == name and pred(*args):
                    return args
            flag.clear()
            left = deadline - loop.time()
            if left <= 0:
                names = [e for e, _ in events[start:]]
                raise AssertionError(f"no {name} event within {timeout}s; got {names}")
            try:
                await asyncio.wait_for(flag.wait(), left)
            except TimeoutError:
                pass

    def mark(self) -> int:
        """An index to pass as `start`: only events after now."""
        return len(self.__dict__.setdefault("events", []))


class RecordingClient(RecordingMixin, IRCClient):
    pass


class HarnessBot(RecordingMixin, Bot):
    pass


class TestUser:
    """A person on IRC, as raw lines: what the bot's audience sees."""

    __test__ = False  # not a pytest test class

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.nick: str | None = None

    @classmethod
    async def connect(cls, port: int, nick: str | None = None, host: str = "127.0.0.1") -> TestUser:
        reader, writer = await asyncio.open_connection(host, port)
        user = cls(reader, writer)
        if nick:
            await user.register(nick)
        return user

    async def send(self, line: str | bytes) -> None:
        self.writer.write((line if isinstance(line, bytes) else line.encode()) + b"\r\n")
        await self.writer.drain()

    async def read_message(self, timeout: float = TIMEOUT) -> Message | None:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        return parse_line(decode_line(raw.rstrip(b"\r\n"))) if raw else None

    async def expect(self, command: str, *params: str, timeout: float = TIMEOUT) -> Message:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                msg = await self.read_message(max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise AssertionError(f"no {command} {params} within {timeout}s") from None
            if msg is None:
                raise AssertionError(f"connection closed waiting for {command} {params}")
            if msg.command == command and list(msg.params[: len(params)]) == list(params):
                if command == "PING":
                    continue
                return msg
            if msg.command == "PING":
                await self.send(f"PONG :{msg.params[-1] if msg.params else ''}")

    async def register(self, nick: str) -> None:
        self.nick = nick
        await self.send(f"NICK {nick}")
        await self.send(f"USER {nick} 0 * :{nick}")
        await self.expect("001")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class BotHarness:
    """A Bot with plugins in a channel, and a user ("tester") who talks to it.

    `await harness.say("!roll 2d6")` sends a line as the user in the channel
    and returns what the bot said in answer (PRIVMSG and NOTICE texts, to the
    user or to where the user is), once the bot has handled the line, its
    handler tasks are done and its queue is written out.
    """

    def __init__(self, bot: HarnessBot, user: Any, channel: str, server: Any,
                 connector: Connector, task: asyncio.Task) -> None:
        self.bot, self.user, self.channel, self.server = bot, user, channel, server
        self.connector, self.task = connector, task
        self.greeting: list[str] = []
        self._sync = 0
        self._owned: list[Any] = []

    async def add_user(self, nick: str, join: bool = True) -> TestUser:
        """Another person, in the harness's channel (unless join=False)."""
        user = await TestUser.connect(self.server.port, nick)
        self._owned.append(user)
        if join:
            mark = self.bot.mark()
            await user.send(f"JOIN {self.channel}")
            await user.expect("366")
            await self.bot.wait_event("user_joined", lambda n, c: n == nick, start=mark)
            await self.settle(user)
        return user

    async def say(self, text: str, to: str | None = None, user: Any = None) -> list[str]:
        """Send `text` as `user` (default tester) to the channel (or `to`); the bot's answer."""
        user = user or self.user
        mark = self.bot.mark()
        await user.send(f"PRIVMSG {to or self.channel} :{text}")
        await self.bot.wait_event(
            "line_received", lambda m: m.command == "PRIVMSG" and m.params[-1] == text,
            start=mark, timeout=TIMEOUT)
        return await self.settle(user)

    async def pm(self, text: str, user: Any = None) -> list[str]:
        return await self.say(text, to=self.bot.nickname, user=user)

    async def settle(self, user: Any = None) -> list[str]:
        """What the bot sent that `user` saw, until now."""
        user = user or self.user
        while self.bot.handler_tasks:
            # Handler calls only, not the plugins' long-lived tasks (a pending reminder).
            await asyncio.wait(list(self.bot.handler_tasks), timeout=TIMEOUT)
        await asyncio.wait_for(self.bot.queue.wait_empty(), TIMEOUT)
        self._sync += 1
        marker = f"sync-{self._sync}"
        self.bot.send("PRIVMSG", user.nick, marker)
        said: list[str] = []
        while True:
            msg = await user.read_message()
            assert msg is not None, f"the server closed {user.nick}'s connection"
            if msg.nick != self.bot.nickname or msg.command not in ("PRIVMSG", "NOTICE"):
                continue
            if msg.params[1] == marker:
                return said
            said.append(msg.params[1])

    async def close(self) -> None:
        for user in [self.user, *self._owned]:
            await user.close()
        if not self.task.done():
            self.connector.stop("test over")
            try:
                await asyncio.wait_for(self.task, 5)
            except Exception:
                self.task.cancel()
        await self.bot.close()
        for task in list(self.bot.tasks):
            task.cancel()


async def start_words_server():
    """A words IRC server in this event loop, on a free loopback port (`.port`); `await .stop()`."""
    from words.app import build_server
    from words.config import Config, Listen

    server = build_server(Config(server_name="irc.test", listen=(Listen("127.0.0.1", 0),),
                                 hashing={"ln": 4}))
    await server.start()
    server.port = server.bound[0][1]
    return server


async def start_harness(*plugins: str, server: Any = None, channel: str = "#test",
                        nick: str = "testbot", user_nick: str = "tester",
                        **bot_options: Any) -> BotHarness:
    """A HarnessBot with `plugins`, signed on to `server` (anything with a `.port`;
    default: a new words server, stopped by close()) and in `channel` with a user."""
    own_server = server is None
    if own_server:
        server = await start_words_server()
    bot_options.setdefault("burst", 50)
    bot_options.setdefault("rate", 500)
    bot = HarnessBot(nick, channels=[channel], **bot_options)
    for plugin in plugins:
        await bot.load_plugin(plugin)
    connector = Connector(bot, "127.0.0.1", server.port, backoff=Backoff(initial=0.05, max_delay=0.5))
    task = asyncio.create_task(connector.run())
    bot.connector = connector  # type: ignore[attr-defined]
    bot.run_task = task  # type: ignore[attr-defined]
    waiter = asyncio.ensure_future(bot.wait_event("joined", timeout=TIMEOUT))
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        task.result()  # raises what ended the connector
    waiter.result()
    user = await TestUser.connect(server.port, user_nick)
    harness = BotHarness(bot, user, channel, server, connector, task)
    if own_server:
        original_close = harness.close

        async def close() -> None:
            await original_close()
            await server.stop()

        harness.close = close  # type: ignore[method-assign]
    mark = bot.mark()
    await user.send(f"JOIN {channel}")
    await user.expect("366")
    await bot.wait_event("user_joined", lambda n, c: n == user_nick, start=mark)
    harness.greeting = await harness.settle()  # what plugins said on the join
    return harness
