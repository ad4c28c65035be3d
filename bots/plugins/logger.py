"""logger: per-channel daily log files with timestamps.

    <dir>/<channel>/<YYYY-MM-DD>.log      [12:34:56] <alice> hello

Settings: dir (default "logs"). Dates and times are UTC (server-time when the
server sends it). Lines are queued and written by one task in a worker
thread, in order, so the event loop never waits on the disk; unloading the
plugin writes what is still queued.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from bots import event

_writers: dict[int, _Writer] = {}


class _Writer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()

    def path(self, channel: str, day: str) -> Path:
        # Channel names may hold '/' or be '.': quote them into one safe file name.
        name = quote(channel.lower(), safe="#&+!-_") or "_"
        return self.directory / name / f"{day}.log"

    def write(self, items: list[tuple[str, str, str]]) -> None:
        by_file: dict[Path, list[str]] = {}
        for channel, day, line in items:
            by_file.setdefault(self.path(channel, day), []).append(line)
        for path, lines in by_file.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))

    def take_all(self) -> list[tuple[str, str, str]]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    async def run(self) -> None:
        inflight: asyncio.Future | None = None
        try:
            while True:
                items = [await self.queue.get()] + self.take_all()
                inflight = asyncio.ensure_future(asyncio.to_thread(self.write, items))
                await asyncio.shield(inflight)
        except asyncio.CancelledError:
            # Unloading: let the batch being written finish, then write the rest, in order.
            if inflight is not None and not inflight.done():
                await inflight
            self.write(self.take_all())
            raise


def setup(bot) -> None:
    directory = Path(bot.settings.get("logger", {}).get("dir", "logs"))
    writer = _writers[id(bot)] = _Writer(directory)
    bot.plugin_task("logger", writer.run(), "log-writer")


def teardown(bot) -> None:
    # The writer task was cancelled before this runs, and wrote what was queued.
    _writers.pop(id(bot), None)


def _channels_of(bot, nick: str) -> list[str]:
    folded = bot.fold(nick)
    return [c.name for c in bot.channels.values() if folded in c.members]


def _render(bot, msg) -> tuple[list[str], str] | None:
    cmd, p, nick = msg.command.upper(), msg.params, msg.nick or ""
    if cmd in ("PRIVMSG", "NOTICE") and len(p) >= 2 and bot.is_channel(p[0]):
        text = p[1]
        if text.startswith("\x01ACTION"):
            return [p[0]], f"* {nick} {text[8:].rstrip(chr(1))}"
        if text.startswith("\x01"):
            return None
        return [p[0]], (f"<{nick}> {text}" if cmd == "PRIVMSG" else f"-{nick}- {text}")
    if cmd == "JOIN" and p:
        return [p[0]], f"--> {nick} ({msg.source}) joined {p[0]}"
    if cmd == "PART" and p:
        return [p[0]], f"<-- {nick} left {p[0]}" + (f" ({p[1]})" if len(p) > 1 else "")
    if cmd == "KICK" and len(p) >= 2:
        return [p[0]], f"<-- {p[1]} was kicked by {nick}" + (f" ({p[2]})" if len(p) > 2 else "")
    if cmd == "QUIT":
        return _channels_of(bot, nick), f"<-- {nick} quit" + (f" ({p[0]})" if p else "")
    if cmd == "NICK" and p:
        return _channels_of(bot, nick), f"--- {nick} is now known as {p[0]}"
    if cmd == "TOPIC" and len(p) >= 2:
        return [p[0]], f"--- {nick} set the topic: {p[1]}"
    if cmd == "MODE" and len(p) >= 2 and bot.is_channel(p[0]):
        return [p[0]], f"--- {nick} sets mode {' '.join(p[1:])}"
    return None


@event("PRIVMSG", "NOTICE", "JOIN", "PART", "KICK", "QUIT", "NICK", "TOPIC", "MODE")
def log_line(ctx):
    writer = _writers.get(id(ctx.bot))
    if writer is None or ctx.msg is None:
        return
    rendered = _render(ctx.bot, ctx.msg)
    if rendered is None:
        return
    channels, line = rendered
    when = ctx.time
    day, clock = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
    for channel in channels:
        writer.queue.put_nowait((channel, day, f"[{clock}] {line}"))


__all__ = ["log_line", "setup", "teardown"]
