"""remind: `!remind in 10m stretch` (or `!in 1h30m tea`) -> a reminder, even after a restart.

Reminders are stored before they are acknowledged and deleted after they are
sent; a bot restarted past the due time sends them at once. Settings:
max_seconds (one year), max_per_nick (20).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from bots import command

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:\d+[smhdw])+$", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """"1h30m" -> 5400; ValueError for anything else."""
    if not _DURATION.match(text):
        raise ValueError(f"not a duration: {text!r} (try 10m, 1h30m, 2d)")
    return sum(int(n) * _UNITS[u.lower()] for n, u in re.findall(r"(\d+)([smhdw])", text, re.IGNORECASE))


def _fmt(seconds: int) -> str:
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


async def _fire(bot, key: str, note: dict) -> None:
    storage = bot.storage_for("remind")
    await asyncio.sleep(max(0.0, note["due"] - time.time()))  # the reminder's own schedule
    await bot.signed_on_event.wait()  # offline at the due time: send once back
    bot.msg(note["target"], f"{note['nick']}: reminder: {note['text']}")
    await storage.delete(key)


def _schedule(bot, key: str, note: dict) -> None:
    bot.plugin_task("remind", _fire(bot, key, note), f"reminder-{key[:8]}")


async def setup(bot) -> None:
    """Reschedule every stored reminder (they survive restarts)."""
    for key, note in await bot.storage_for("remind").items():
        _schedule(bot, key, note)


@command("remind", "in")
async def remind(ctx):
    """remind in 10m text: remind you (here) after a delay like 30s, 10m, 1h30m, 2d."""
    args = ctx.args
    if args[:3].lower() == "in ":
        args = args[3:]
    words = args.split(None, 1)
    if len(words) < 2:
        ctx.reply("usage: remind in 10m text")
        return
    try:
        seconds = parse_duration(words[0])
    except ValueError as e:
        ctx.reply(str(e))
        return
    if seconds > int(ctx.settings.get("max_seconds", 365 * 86400)):
        ctx.reply("that is too far away")
        return
    mine = [n for _, n in await ctx.storage.items()
            if ctx.bot.fold(n["nick"]) == ctx.bot.fold(ctx.sender)]
    if len(mine) >= int(ctx.settings.get("max_per_nick", 20)):
        ctx.reply("you have too many reminders waiting")
        return
    key = uuid.uuid4().hex
    note = {"due": time.time() + seconds, "target": ctx.target, "nick": ctx.sender,
            "text": words[1]}
    await ctx.storage.set(key, note)
    _schedule(ctx.bot, key, note)
    ctx.reply(f"I'll remind you in {_fmt(seconds)}.")
