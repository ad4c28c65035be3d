"""admin: owners manage the bot from IRC.

    !join #chan   !part [#chan]   !load NAME   !unload NAME   !reload NAME
    !plugins   !ignore MASK   !unignore MASK   !quit [message]

Owners are recognised by account first, hostmask second (see the config's
owners / owner_masks). Ignored hostmasks are persisted.
"""

from __future__ import annotations

from bots import command, require_admin, require_owner


async def setup(bot) -> None:
    bot.ignored[:] = await bot.storage_for("admin").get("ignored", [])


@command("join")
@require_admin
def join(ctx):
    """join #channel: make the bot join a channel (admins)."""
    if not ctx.args:
        ctx.reply("join which channel?")
        return
    ctx.bot.join(ctx.args.split()[0])


@command("part", "leave")
@require_admin
def part(ctx):
    """part [#channel]: make the bot leave this or another channel (admins)."""
    channel = ctx.args.split()[0] if ctx.args else ctx.channel
    if not channel:
        ctx.reply("part which channel?")
        return
    ctx.bot.leave(channel, f"asked by {ctx.sender}")


@command("load", "unload", "reload")
@require_owner
async def plugins_admin(ctx):
    """load|unload|reload NAME: manage plugins at runtime (owners)."""
    name = ctx.args.strip()
    if not name:
        ctx.reply(f"{ctx.command} which plugin?")
        return
    try:
        if ctx.command == "load":
            await ctx.bot.load_plugin(name)
        elif ctx.command == "unload":
            if name == "admin":
                ctx.reply("unloading admin would lock you out; reload it instead")
                return
            await ctx.bot.unload_plugin(name)
        else:
            await ctx.bot.reload_plugin(name)
    except Exception as e:
        ctx.reply(f"{ctx.command} {name} failed: {type(e).__name__}: {e}")
        return
    ctx.reply(f"{ctx.command}ed {name}")


@command("plugins")
@require_admin
def plugins(ctx):
    """plugins: the loaded plugins (admins)."""
    ctx.reply("loaded: " + ", ".join(sorted(ctx.bot.plugins)))


async def _save_ignored(ctx) -> None:
    await ctx.storage.set("ignored", ctx.bot.ignored)


@command("ignore")
@require_owner
async def ignore(ctx):
    """ignore MASK: drop every line from nick!user@host masks matching MASK (owners)."""
    mask = ctx.args.strip()
    if not mask:
        ctx.reply("ignored: " + (", ".join(ctx.bot.ignored) or "nobody"))
        return
    if "!" not in mask and "@" not in mask:
        mask += "!*@*"
    if mask not in ctx.bot.ignored:
        ctx.bot.ignored.append(mask)
        await _save_ignored(ctx)
    ctx.reply(f"ignoring {mask}")


@command("unignore")
@require_owner
async def unignore(ctx):
    """unignore MASK: stop ignoring MASK (owners)."""
    mask = ctx.args.strip()
    if "!" not in mask and "@" not in mask:
        mask += "!*@*"
    if mask in ctx.bot.ignored:
        ctx.bot.ignored.remove(mask)
        await _save_ignored(ctx)
        ctx.reply(f"no longer ignoring {mask}")
    else:
        ctx.reply(f"{mask} was not ignored")


@command("quit")
@require_owner
def quit_(ctx):
    """quit [message]: disconnect the bot for good (owners)."""
    ctx.bot.quit(ctx.args or f"asked by {ctx.sender}")
