"""seen: `!seen alice` -> when and where alice was last seen, doing what.

Records the last line, join, part, quit or nick change of everyone the bot
sees (persisted in the plugin's storage, keyed by the folded nick).
"""

from __future__ import annotations

import time

from bots import command, event


def ago(seconds: float) -> str:
    """A short, human "how long ago": 42s, 5m, 3h 20m, 2d 4h."""
    m, s = divmod(int(max(seconds, 0)), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    if d:
        return f"{d}d {h}h ago"
    if h:
        return f"{h}h {m}m ago"
    return f"{m}m ago" if m else f"{s}s ago"


def _describe(msg, bot) -> tuple[str, str | None] | None:
    cmd, params = msg.command.upper(), msg.params
    if cmd == "PRIVMSG" and len(params) >= 2 and bot.is_channel(params[0]):
        text = params[1]
        if text.startswith("\x01ACTION "):
            return f"doing: * {msg.nick} {text[8:].rstrip(chr(1))}", params[0]
        if text.startswith("\x01"):
            return None
        return f"saying: {text}", params[0]
    if cmd == "JOIN" and params:
        return "joining", params[0]
    if cmd == "PART" and params:
        return "leaving" + (f" ({params[1]})" if len(params) > 1 and params[1] else ""), params[0]
    if cmd == "QUIT":
        return "quitting" + (f" ({params[0]})" if params and params[0] else ""), None
    if cmd == "NICK" and params:
        return f"changing nick to {params[0]}", None
    return None


@event("PRIVMSG", "JOIN", "PART", "QUIT", "NICK")
async def record(ctx):
    msg = ctx.msg
    if msg is None or not msg.nick or ctx.bot.is_me(msg.nick):
        return
    described = _describe(msg, ctx.bot)
    if described is None:
        return
    what, where = described
    await ctx.storage.set(ctx.bot.fold(msg.nick), {
        "nick": msg.nick, "time": ctx.time.timestamp(), "where": where, "what": what,
    })


@command("seen")
async def seen(ctx):
    """seen nick: when and where nick was last seen."""
    nick = ctx.args.split()[0] if ctx.args.split() else ""
    if not nick:
        ctx.reply("seen who?")
        return
    if ctx.bot.is_me(nick):
        ctx.reply("I'm right here.")
        return
    if ctx.bot.fold(nick) == ctx.bot.fold(ctx.sender):
        ctx.reply("I see you.")
        return
    entry = await ctx.storage.get(ctx.bot.fold(nick))
    if entry is None:
        ctx.reply(f"I have not seen {nick}.")
        return
    place = f" in {entry['where']}" if entry["where"] else ""
    ctx.reply(f"{entry['nick']} was last seen {ago(time.time() - entry['time'])}{place}, {entry['what']}")
