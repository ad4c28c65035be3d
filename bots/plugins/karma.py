"""karma: `thing++` / `thing--` in a channel; `!karma thing` tells the score.

No self-karma; the things are case-insensitive (folded as nicks are).
"""

from __future__ import annotations

from bots import command, rule


@rule(r"^(?P<thing>[^\s+-][^\s]*?)(?P<op>\+\+|--)(?:\s|$)")
async def change(ctx):
    if ctx.channel is None:
        return  # karma is public
    thing = ctx.match.group("thing").rstrip(":,")
    if ctx.bot.fold(thing) == ctx.bot.fold(ctx.sender):
        ctx.notice("No self-karma.")
        return
    delta = 1 if ctx.match.group("op") == "++" else -1
    await ctx.storage.update(ctx.bot.fold(thing), lambda v: v + delta, 0)


@command("karma")
async def karma(ctx):
    """karma thing: the karma of thing (change it with thing++ or thing--)."""
    thing = ctx.args.split()[0] if ctx.args.split() else ctx.sender
    score = await ctx.storage.get(ctx.bot.fold(thing), 0)
    ctx.reply(f"{thing} has karma {score}.")
