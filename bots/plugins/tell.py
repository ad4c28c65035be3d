"""tell: `!tell bob the build is green` -> delivered when bob next speaks or joins.

Messages are persisted; each recipient holds at most `max_per_nick` (10).
"""

from __future__ import annotations

import time

from bots import command, event
from bots.plugins.seen import ago


@command("tell")
async def tell(ctx):
    """tell nick message: pass a message on when nick is next around."""
    nick, _, text = ctx.args.partition(" ")
    text = text.strip()
    if not nick or not text:
        ctx.reply("usage: tell nick message")
        return
    if ctx.bot.is_me(nick):
        ctx.reply("I heard you.")
        return
    limit = int(ctx.settings.get("max_per_nick", 10))
    note = {"from": ctx.sender, "text": text, "time": time.time(), "where": ctx.channel}
    full = False

    def add(pending):
        nonlocal full
        if len(pending) >= limit:
            full = True
            return pending
        return pending + [note]

    await ctx.storage.update(ctx.bot.fold(nick), add, [])
    ctx.reply(f"{nick} has too many messages waiting." if full else f"I'll pass that on to {nick}.")


async def _take(storage, key: str) -> list[dict]:
    """Remove and return the notes for `key`, in one step (no double delivery)."""

    def take():
        notes = storage._get(key, [])
        if notes:
            storage._delete(key)
        return notes

    return await storage.run(take)


@event("PRIVMSG", "JOIN")
async def deliver_notes(ctx):
    msg = ctx.msg
    if msg is None or not msg.nick or ctx.bot.is_me(msg.nick):
        return
    notes = await _take(ctx.storage, ctx.bot.fold(msg.nick))
    target = ctx.channel if ctx.channel else msg.nick
    for note in notes:
        ctx.bot.msg(target, f"{msg.nick}: {note['from']} said {ago(time.time() - note['time'])}: {note['text']}")
